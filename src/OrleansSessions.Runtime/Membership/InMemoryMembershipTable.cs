namespace OrleansSessions.Runtime.Membership;

/// <summary>A membership table in process memory: one silo, or the silos of one TestCluster sharing the instance.</summary>
public sealed class InMemoryMembershipTable : IMembershipTable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, MembershipEntry> _entries = new(StringComparer.Ordinal);
    private long _version;

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task<MembershipTableSnapshot> ReadAllAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(new MembershipTableSnapshot([.. _entries.Values], _version));
        }
    }

    /// <inheritdoc />
    public Task<bool> TryUpsertAsync(MembershipEntry entry, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_lock)
        {
            if (_version != expectedVersion)
            {
                return Task.FromResult(false);
            }
            _entries[entry.Silo.ToString()] = entry;
            _version++;
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    public Task UpdateIAmAliveAsync(SiloAddress silo, DateTimeOffset iAmAliveTime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(silo);
        lock (_lock)
        {
            if (_entries.TryGetValue(silo.ToString(), out var entry))
            {
                _entries[silo.ToString()] = entry with { IAmAliveTime = iAmAliveTime };
            }
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task CleanupDefunctEntriesAsync(DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var pair in _entries.ToArray())
            {
                if (pair.Value.Status == SiloStatus.Dead && pair.Value.IAmAliveTime < olderThan)
                {
                    _entries.Remove(pair.Key);
                }
            }
        }
        return Task.CompletedTask;
    }
}
