namespace OrleansSessions.Sessions;

/// <summary>
/// Expires sessions whose deadline passed while no activation held them (key: the partition number,
/// "0" .. partitions-1). Driven by a reminder every Janitor:Period.
/// </summary>
public interface IJanitorGrain : IGrainWithStringKey
{
    /// <summary>Sweeps the partition now; returns how many sessions it expired.</summary>
    Task<int> RunNowAsync();

    /// <summary>Makes sure the partition's reminder is registered.</summary>
    Task EnsureStartedAsync();
}
