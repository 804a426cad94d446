using HdrHistogram;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>
/// Nanosecond latencies in an HdrHistogram (<see cref="LongHistogram"/>, 3 significant digits: exact below 2,048 ns,
/// relative error under 0.1% above), from 1 ns to 1 hour; a longer value is counted as 1 hour (<see cref="Max"/> keeps
/// it exactly). Not thread-safe: one per writer, merged after with <see cref="Add"/>.
/// </summary>
internal sealed class LatencyHistogram
{
    private const long Highest = 3_600_000_000_000; // 1 hour in ns
    private readonly LongHistogram _histogram = new(lowestTrackableValue: 1, highestTrackableValue: Highest, numberOfSignificantValueDigits: 3);

    public long Count => _histogram.TotalCount;

    public long Max { get; private set; }

    public void Record(long nanoseconds)
    {
        nanoseconds = Math.Max(0, nanoseconds);
        _histogram.RecordValue(Math.Min(nanoseconds, Highest));
        if (nanoseconds > Max)
        {
            Max = nanoseconds;
        }
    }

    public void Add(LatencyHistogram other)
    {
        _histogram.Add(other._histogram);
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The value at <paramref name="quantile"/> (0..1) in nanoseconds (the highest value equivalent to it, at most <see cref="Max"/>).</summary>
    public double Percentile(double quantile)
    {
        if (Count == 0)
        {
            return double.NaN;
        }
        return quantile >= 1 ? Max : Math.Min(_histogram.GetValueAtPercentile(quantile * 100), Max);
    }

    public double Milliseconds(double quantile) => Percentile(quantile) / 1e6;
}
