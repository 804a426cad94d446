namespace OrleansSessions.Runtime.Membership;

/// <summary>
/// The shared membership table of one cluster (Cluster:ClusterId). Every change that affects membership
/// is a compare-and-swap on the table version, so concurrent writers cannot lose each other's updates.
/// </summary>
public interface IMembershipTable
{
    /// <summary>Creates the table if needed (idempotent).</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Reads every row and the table version.</summary>
    Task<MembershipTableSnapshot> ReadAllAsync(CancellationToken cancellationToken);

    /// <summary>Inserts or replaces the row of <c>entry.Silo</c> if the table version still equals <paramref name="expectedVersion"/>, then increments the version. Returns false on a version mismatch.</summary>
    Task<bool> TryUpsertAsync(MembershipEntry entry, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Updates the heartbeat of a silo without changing the table version.</summary>
    Task UpdateIAmAliveAsync(SiloAddress silo, DateTimeOffset iAmAliveTime, CancellationToken cancellationToken);

    /// <summary>Deletes rows of dead silos whose heartbeat is older than <paramref name="olderThan"/>.</summary>
    Task CleanupDefunctEntriesAsync(DateTimeOffset olderThan, CancellationToken cancellationToken);
}
