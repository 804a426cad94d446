using OrleansSessions.Silos;

namespace OrleansSessions.Grains.Diagnostics;

/// <summary>
/// Counts of expiry lags (ms) in the fixed buckets of <see cref="ExpiryLagBuckets"/>. Recording is lock-free and
/// allocation-free; the counts only grow, so the difference of two copies is the distribution in between, and the
/// counts of several silos add up. The dashboard's lag chart reads percentiles from them.
/// </summary>
public sealed class ExpiryLagHistogram
{
    /// <summary>The number of buckets.</summary>
    public const int BucketCount = ExpiryLagBuckets.Count;

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

    /// <inheritdoc cref="ExpiryLagBuckets.BucketOf"/>
    public static int BucketOf(double milliseconds) => ExpiryLagBuckets.BucketOf(milliseconds);

    /// <inheritdoc cref="ExpiryLagBuckets.UpperBound"/>
    public static double UpperBound(int bucket) => ExpiryLagBuckets.UpperBound(bucket);

    /// <inheritdoc cref="ExpiryLagBuckets.Quantile"/>
    public static double? Quantile(ReadOnlySpan<long> counts, double quantile) => ExpiryLagBuckets.Quantile(counts, quantile);
}
