namespace OrleansSessions.Grains.Storage;

/// <summary>
/// The default <see cref="ISessionDeadlineIndex"/>: per-process memory, one sorted set per partition under its
/// own lock (O(log n) upsert and remove, O(log n + k) read of k due rows). Like the in-memory grain storage it
/// does not survive the process; share one instance between silos that share in-memory grain storage.
/// </summary>
public sealed class InMemorySessionDeadlineIndex : ISessionDeadlineIndex
{
    private readonly Lock _partitionsGate = new();
    private Partition[] _partitions = [];

    /// <summary>How many rows the index holds.</summary>
    public int Count
    {
        get
        {
            var total = 0;
            foreach (var partition in Volatile.Read(ref _partitions))
            {
                lock (partition.Gate)
                {
                    total += partition.Deadlines.Count;
                }
            }
            return total;
        }
    }

    /// <inheritdoc />
    public ValueTask UpsertAsync(string sessionId, string userId, DateTimeOffset deadline, int partition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentNullException.ThrowIfNull(userId);
        cancellationToken.ThrowIfCancellationRequested();
        var p = GetPartition(partition);
        var ticks = deadline.UtcTicks;
        lock (p.Gate)
        {
            if (p.Deadlines.TryGetValue(sessionId, out var existing))
            {
                if (existing.Ticks == ticks)
                {
                    return ValueTask.CompletedTask;
                }
                p.Ordered.Remove(new Key(existing.Ticks, sessionId));
            }
            p.Deadlines[sessionId] = new Row(ticks, userId);
            p.Ordered.Add(new Key(ticks, sessionId));
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask RemoveAsync(string sessionId, int partition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        cancellationToken.ThrowIfCancellationRequested();
        var p = GetPartition(partition);
        lock (p.Gate)
        {
            if (p.Deadlines.Remove(sessionId, out var existing))
            {
                p.Ordered.Remove(new Key(existing.Ticks, sessionId));
            }
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadDueAsync(int partition, DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
        => ReadRangeAsync(partition, DateTimeOffset.MinValue, now, limit, cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadRangeAsync(int partition, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        var p = GetPartition(partition);
        var fromTicks = from.UtcTicks;
        var toTicks = to.UtcTicks;
        var result = new List<SessionDeadlineEntry>();
        lock (p.Gate)
        {
            if (fromTicks > toTicks || p.Ordered.Count == 0 || p.Ordered.Min.Ticks > toTicks || p.Ordered.Max.Ticks < fromTicks)
            {
                return new ValueTask<IReadOnlyList<SessionDeadlineEntry>>(result);
            }
            // Every id sorts after the empty string and before "\uffff", so these keys bound all rows from fromTicks to toTicks.
            foreach (var key in p.Ordered.GetViewBetween(new Key(fromTicks, string.Empty), new Key(toTicks, "\uffff")))
            {
                var row = p.Deadlines[key.SessionId];
                result.Add(new SessionDeadlineEntry(key.SessionId, row.UserId, new DateTimeOffset(key.Ticks, TimeSpan.Zero)));
                if (result.Count == limit)
                {
                    break;
                }
            }
        }
        return new ValueTask<IReadOnlyList<SessionDeadlineEntry>>(result);
    }

    private Partition GetPartition(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        var partitions = Volatile.Read(ref _partitions);
        if (partition < partitions.Length)
        {
            return partitions[partition];
        }
        lock (_partitionsGate)
        {
            partitions = _partitions;
            if (partition >= partitions.Length)
            {
                var grown = new Partition[partition + 1];
                Array.Copy(partitions, grown, partitions.Length);
                for (var i = partitions.Length; i < grown.Length; i++)
                {
                    grown[i] = new Partition();
                }
                Volatile.Write(ref _partitions, grown);
                partitions = grown;
            }
            return partitions[partition];
        }
    }

    private readonly record struct Row(long Ticks, string UserId);

    private readonly record struct Key(long Ticks, string SessionId);

    private sealed class KeyComparer : IComparer<Key>
    {
        public static readonly KeyComparer Instance = new();

        public int Compare(Key x, Key y)
        {
            var byTime = x.Ticks.CompareTo(y.Ticks);
            return byTime != 0 ? byTime : string.CompareOrdinal(x.SessionId, y.SessionId);
        }
    }

    private sealed class Partition
    {
        public readonly Lock Gate = new();
        public readonly Dictionary<string, Row> Deadlines = new(StringComparer.Ordinal);
        public readonly SortedSet<Key> Ordered = new(KeyComparer.Instance);
    }
}
