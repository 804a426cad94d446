using OrleansSessions.Grains.Diagnostics;

namespace OrleansSessions.Grains.Tests;

/// <summary>The expiry lag buckets behind the dashboard's lag chart: pure arithmetic.</summary>
public sealed class ExpiryLagHistogramTests
{
    [Theory]
    [InlineData(-5, 0)]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(1.1, 1)]
    [InlineData(2, 4)]
    [InlineData(100, 27)]
    [InlineData(1e12, ExpiryLagHistogram.BucketCount - 1)]
    public void A_lag_falls_in_the_bucket_whose_bound_holds_it(double milliseconds, int bucket)
    {
        Assert.Equal(bucket, ExpiryLagHistogram.BucketOf(milliseconds));
        if (bucket > 0 && bucket < ExpiryLagHistogram.BucketCount - 1)
        {
            Assert.True(milliseconds <= ExpiryLagHistogram.UpperBound(bucket));
            Assert.True(milliseconds > ExpiryLagHistogram.UpperBound(bucket - 1));
        }
    }

    [Fact]
    public void Quantiles_are_at_most_a_fifth_above_the_true_value()
    {
        var histogram = new ExpiryLagHistogram();
        for (var i = 1; i <= 100; i++)
        {
            histogram.Record(i);
        }
        var counts = new long[ExpiryLagHistogram.BucketCount];
        histogram.CopyTo(counts);
        Assert.Equal(100, counts.Sum());
        var median = ExpiryLagHistogram.Quantile(counts, 0.5)!.Value;
        var p99 = ExpiryLagHistogram.Quantile(counts, 0.99)!.Value;
        Assert.InRange(median, 50, 50 * 1.19);
        Assert.InRange(p99, 99, 99 * 1.19);
    }

    [Fact]
    public void Counts_of_two_silos_add_up_and_no_counts_have_no_quantile()
    {
        var counts = new long[ExpiryLagHistogram.BucketCount];
        Assert.Null(ExpiryLagHistogram.Quantile(counts, 0.99));
        counts[ExpiryLagHistogram.BucketOf(3)] += 99;
        counts[ExpiryLagHistogram.BucketOf(400)] += 1;
        Assert.Equal(ExpiryLagHistogram.UpperBound(ExpiryLagHistogram.BucketOf(3)), ExpiryLagHistogram.Quantile(counts, 0.99));
        Assert.Equal(ExpiryLagHistogram.UpperBound(ExpiryLagHistogram.BucketOf(400)), ExpiryLagHistogram.Quantile(counts, 1));
    }
}
