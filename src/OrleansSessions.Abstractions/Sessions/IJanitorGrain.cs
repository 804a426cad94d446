namespace OrleansSessions.Sessions;

/// <summary>
/// Expires sessions whose deadline passed while no activation held them (key: the partition number,
/// "0" .. Janitor:Partitions-1). Driven by an Orleans reminder every Janitor:Period.
/// </summary>
[Alias("OrleansSessions.IJanitorGrain")]
public interface IJanitorGrain : IGrainWithStringKey
{
    /// <summary>Sweeps the partition now; returns how many sessions it expired.</summary>
    [Alias("RunNow")]
    Task<int> RunNowAsync();

    /// <summary>Makes sure the partition's reminder is registered with the period Janitor:Period.</summary>
    [Alias("EnsureStarted")]
    Task EnsureStartedAsync();
}
