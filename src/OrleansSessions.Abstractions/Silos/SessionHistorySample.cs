namespace OrleansSessions.Silos;

/// <summary>One silo's session figures over one sampling interval, as its <see cref="ISiloSessionsGrain"/> gives them.</summary>
/// <param name="Slot">The end of the interval in Unix milliseconds, rounded to the interval, so the silos' samples line up.</param>
/// <param name="Live">Sessions created minus ended by this silo since it started, at the end of the interval.</param>
/// <param name="Created">Sessions created in the interval.</param>
/// <param name="Ended">Sessions ended in the interval.</param>
/// <param name="LagBuckets">The <see cref="ExpiryLagBuckets"/> that expiries fell in during the interval (empty: none).</param>
/// <param name="LagCounts">How many expiries fell in each of <paramref name="LagBuckets"/>.</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.AspNetCore.SessionHistorySample")]
public sealed record SessionHistorySample(
    [property: Id(0)] long Slot,
    [property: Id(1)] long Live,
    [property: Id(2)] long Created,
    [property: Id(3)] long Ended,
    [property: Id(4)] int[] LagBuckets,
    [property: Id(5)] long[] LagCounts)
{
    /// <summary>The sampling interval: 2 s.</summary>
    public static TimeSpan Interval { get; } = TimeSpan.FromSeconds(2);

    /// <summary>The samples a silo keeps: 10 minutes.</summary>
    public const int Capacity = 300;
}
