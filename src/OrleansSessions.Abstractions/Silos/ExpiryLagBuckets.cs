namespace OrleansSessions.Silos;

/// <summary>
/// The buckets of expiry lags (ms), a quarter of a power of two wide (about 19%): bucket 0 holds lags up to 1 ms,
/// bucket i up to 2^(i/4) ms, the last one everything above about 17 minutes. Counts per bucket of several silos or
/// intervals add up, and percentiles are read from the sums (<see cref="Quantile"/>).
/// </summary>
public static class ExpiryLagBuckets
{
    /// <summary>The number of buckets.</summary>
    public const int Count = 82;

    private const int StepsPerDoubling = 4;

    /// <summary>The bucket a lag of <paramref name="milliseconds"/> falls in (negative counts as 0).</summary>
    public static int BucketOf(double milliseconds)
    {
        if (!(milliseconds > 1))
        {
            return 0;
        }
        var bucket = Math.Ceiling(StepsPerDoubling * Math.Log2(milliseconds));
        return bucket >= Count - 1 ? Count - 1 : (int)bucket;
    }

    /// <summary>The largest lag (ms) bucket <paramref name="bucket"/> holds; the last bucket has no bound (infinity).</summary>
    public static double UpperBound(int bucket)
        => bucket >= Count - 1 ? double.PositiveInfinity : Math.Pow(2, (double)bucket / StepsPerDoubling);

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
                return i >= Count - 1 ? UpperBound(Count - 2) : UpperBound(i);
            }
        }
        return UpperBound(Count - 2);
    }
}
