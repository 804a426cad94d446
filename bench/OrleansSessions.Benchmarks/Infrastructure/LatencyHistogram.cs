using System.Numerics;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>
/// A log-linear histogram of nanosecond values (HdrHistogram is not restorable here): exact below 1,024 ns,
/// then 512 sub-buckets per power of two (relative error under 0.2%). Not thread-safe: one per writer, merged after.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBits = 9;
    private const int Sub = 1 << SubBits;
    private readonly long[] _counts = new long[2 * Sub + 54 * Sub];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0)
        {
            nanoseconds = 0;
        }
        _counts[Index(nanoseconds)]++;
        Count++;
        if (nanoseconds > Max)
        {
            Max = nanoseconds;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The value at <paramref name="quantile"/> (0..1) in nanoseconds (upper edge of its bucket).</summary>
    public double Percentile(double quantile)
    {
        if (Count == 0)
        {
            return double.NaN;
        }
        var rank = (long)Math.Ceiling(quantile * Count);
        if (rank < 1)
        {
            rank = 1;
        }
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperEdge(i), Max);
            }
        }
        return Max;
    }

    public double Milliseconds(double quantile) => Percentile(quantile) / 1e6;

    private static int Index(long v)
    {
        if (v < 2 * Sub)
        {
            return (int)v;
        }
        var shift = 63 - BitOperations.LeadingZeroCount((ulong)v) - SubBits; // v >> shift in [512, 1023]
        return 2 * Sub + (shift - 1) * Sub + (int)((v >> shift) - Sub);
    }

    private static double UpperEdge(int index)
    {
        if (index < 2 * Sub)
        {
            return index;
        }
        var shift = (index - 2 * Sub) / Sub + 1;
        var mantissa = (index - 2 * Sub) % Sub + Sub;
        return ((long)(mantissa + 1) << shift) - 1;
    }
}
