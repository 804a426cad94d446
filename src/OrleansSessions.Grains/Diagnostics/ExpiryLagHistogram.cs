namespace OrleansSessions.Grains.Diagnostics;

/// <summary>
/// Counts of expiry lags (ms) in fixed buckets a quarter of a power of two wide (about 19%): bucket 0 holds lags up
/// to 1 ms, bucket i up to 2^(i/4) ms, the last one everything above about 17 minutes. Recording is lock-free and
/// allocation-free; the counts only grow, so the difference of two copies is the distribution in between, and the
/// counts of several silos add up. The dashboard's lag chart reads percentiles from them.
/// </summary>
public sealed class ExpiryLagHistogram
{
    /// <summary>The number of buckets.</summary>
    public const int BucketCount = 82;

    private const int StepsPerDoubling = 4;

    private readonly long[] _counts = new long[BucketCount];

    /// <summary>Counts one lag of <paramref name="milliseconds"/> (negative counts as 0).</summary>
    public void Record(double milliseconds) => Interlocked.Increment(ref _counts[BucketOf(milliseconds)]);

    /// <summary>Copies the counts since the silo started into <paramref name="counts"/> (at least <see cref="BucketCount"/> long).</summary>
    /// <exception cref="ArgumentException"><paramref name="counts"/> is too short.</exception>
    public void CopyTo(Span<long> counts)
    {
        if (counts.Length < BucketCount)
        {
            throw new ArgumentException($"At least {BucketCount} counts are needed.", nameof(counts));
        }
        for (var i = 0; i < BucketCount; i++)
        {
            counts[i] = Volatile.Read(ref _counts[i]);
        }
    }

    /// <summary>The bucket a lag of <paramref name="milliseconds"/> falls in.</summary>
    public static int BucketOf(double milliseconds)
    {
        if (!(milliseconds > 1))
        {
            return 0;
        }
        var bucket = Math.Ceiling(StepsPerDoubling * Math.Log2(milliseconds));
        return bucket >= BucketCount - 1 ? BucketCount - 1 : (int)bucket;
    }

    /// <summary>The largest lag (ms) bucket <paramref name="bucket"/> holds; the last bucket has no bound (infinity).</summary>
    public static double UpperBound(int bucket)
        => bucket >= BucketCount - 1 ? double.PositiveInfinity : Math.Pow(2, (double)bucket / StepsPerDoubling);

    /// <summary>
    /// The <paramref name="quantile"/> (0..1) of the lags counted in <paramref name="counts"/>, as the upper bound of
    /// the bucket holding it (at most 19% above the true value; for the last bucket its lower bound); null when there
    /// are no counts.
    /// </summary>
    public static double? Quantile(ReadOnlySpan<long> counts, double quantile)
    {
        long total = 0;
        foreach (var count in counts)
        {
            total += count;
        }
        if (total == 0)
        {
            return null;
        }
        var rank = Math.Max(1, (long)Math.Ceiling(Math.Clamp(quantile, 0, 1) * total));
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                return i >= BucketCount - 1 ? UpperBound(BucketCount - 2) : UpperBound(i);
            }
        }
        return UpperBound(BucketCount - 2);
    }
}
