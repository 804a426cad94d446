using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Storage;

/// <summary>
/// The default <see cref="ISessionEventLog"/>: per-process memory, one list per partition under its own lock, bounded
/// to <see cref="MaxEventsPerPartition"/> events per partition (the oldest are trimmed past it) besides the time-based
/// retention. Like the in-memory grain storage it does not survive the process; share one instance between silos
/// that share in-memory grain storage.
/// </summary>
public sealed class InMemorySessionEventLog : ISessionEventLog
{
    /// <summary>The most events one partition holds; past it the oldest are trimmed as if by retention.</summary>
    public const int MaxEventsPerPartition = 250_000;

    private readonly Lock _partitionsGate = new();
    private readonly int _maxEvents;
    private Partition[] _partitions = [];

    /// <summary>Creates the log with the default bound.</summary>
    public InMemorySessionEventLog() : this(MaxEventsPerPartition)
    {
    }

    /// <summary>Creates the log holding at most <paramref name="maxEventsPerPartition"/> events per partition.</summary>
    public InMemorySessionEventLog(int maxEventsPerPartition)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEventsPerPartition, 1);
        _maxEvents = maxEventsPerPartition;
    }

    /// <inheritdoc />
    public ValueTask<long> AppendAsync(int partition, long sequence, SessionEvent sessionEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionEvent);
        cancellationToken.ThrowIfCancellationRequested();
        var p = GetPartition(partition);
        var key = (sessionEvent.Session.SessionId, sequence);
        lock (p.Gate)
        {
            if (p.Appended.TryGetValue(key, out var existing))
            {
                return new ValueTask<long>(existing);
            }
            var position = ++p.Head;
            p.Events.Add(new Entry(new LoggedSessionEvent(position, sessionEvent), sequence));
            p.Appended[key] = position;
            while (p.Count > _maxEvents)
            {
                p.Drop();
            }
            return new ValueTask<long>(position);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<LoggedSessionEvent>> ReadAsync(int partition, long after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        var p = GetPartition(partition);
        lock (p.Gate)
        {
            // Positions are consecutive from TrimmedThrough + 1: go straight to the first one after `after`.
            var first = p.Start + (int)Math.Clamp(after - p.TrimmedThrough, 0, p.Count);
            var count = Math.Min(limit, p.Events.Count - first);
            var result = new List<LoggedSessionEvent>(count);
            for (var i = first; i < first + count; i++)
            {
                result.Add(p.Events[i].Logged);
            }
            return new ValueTask<IReadOnlyList<LoggedSessionEvent>>(result);
        }
    }

    /// <inheritdoc />
    public ValueTask<SessionEventLogBounds> BoundsAsync(int partition, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var p = GetPartition(partition);
        lock (p.Gate)
        {
            return new ValueTask<SessionEventLogBounds>(new SessionEventLogBounds(p.TrimmedThrough, p.Head));
        }
    }

    /// <inheritdoc />
    public ValueTask<int> TrimAsync(int partition, DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var p = GetPartition(partition);
        var trimmed = 0;
        lock (p.Gate)
        {
            while (p.Count > 0 && p.Events[p.Start].Logged.Event.At < before)
            {
                p.Drop();
                trimmed++;
            }
        }
        return new ValueTask<int>(trimmed);
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

    // A struct in the partition's list: an event held costs its LoggedSessionEvent and one list slot, not a third object.
    private readonly record struct Entry(LoggedSessionEvent Logged, long Sequence)
    {
        public (string SessionId, long Sequence) Key => (Logged.Event.Session.SessionId, Sequence);
    }

    private sealed class Partition
    {
        public readonly Lock Gate = new();
        public readonly List<Entry> Events = [];
        public readonly Dictionary<(string SessionId, long Sequence), long> Appended = [];
        public int Start;
        public long Head;
        public long TrimmedThrough;

        /// <summary>Events held: <see cref="Events"/> from <see cref="Start"/> on.</summary>
        public int Count => Events.Count - Start;

        public void Drop()
        {
            var oldest = Events[Start];
            Events[Start] = default;
            Start++;
            Appended.Remove(oldest.Key);
            TrimmedThrough = oldest.Logged.Position;
            if (Start > 1024 && Start > Events.Count / 2)
            {
                Events.RemoveRange(0, Start);
                Start = 0;
            }
        }
    }
}
