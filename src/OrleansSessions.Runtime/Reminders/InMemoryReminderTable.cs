using System.Globalization;

namespace OrleansSessions.Runtime.Reminders;

/// <summary>A reminder table in process memory, shared by the silos of one process (TestCluster).</summary>
public sealed class InMemoryReminderTable : IReminderTable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(GrainId, string), ReminderEntry> _rows = [];
    private long _etag;

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task<IReadOnlyList<ReminderEntry>> ReadRangeAsync(uint beginExclusive, uint endInclusive, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var result = new List<ReminderEntry>();
            foreach (var row in _rows.Values)
            {
                if (InRange(row.GrainId.PlacementHash, beginExclusive, endInclusive))
                {
                    result.Add(row);
                }
            }
            return Task.FromResult<IReadOnlyList<ReminderEntry>>(result);
        }
    }

    /// <summary>True when <paramref name="hash"/> lies in the ring range (begin, end]; begin == end is the whole ring.</summary>
    public static bool InRange(uint hash, uint beginExclusive, uint endInclusive)
    {
        if (beginExclusive == endInclusive)
        {
            return true;
        }
        return beginExclusive < endInclusive
            ? hash > beginExclusive && hash <= endInclusive
            : hash > beginExclusive || hash <= endInclusive;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ReminderEntry>> ReadRowsAsync(GrainId grainId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var result = new List<ReminderEntry>();
            foreach (var row in _rows.Values)
            {
                if (row.GrainId == grainId)
                {
                    result.Add(row);
                }
            }
            return Task.FromResult<IReadOnlyList<ReminderEntry>>(result);
        }
    }

    /// <inheritdoc />
    public Task<ReminderEntry?> ReadRowAsync(GrainId grainId, string reminderName, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_rows.GetValueOrDefault((grainId, reminderName)));
        }
    }

    /// <inheritdoc />
    public Task<string> UpsertRowAsync(ReminderEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_lock)
        {
            var etag = (++_etag).ToString(CultureInfo.InvariantCulture);
            _rows[(entry.GrainId, entry.ReminderName)] = entry with { ETag = etag };
            return Task.FromResult(etag);
        }
    }

    /// <inheritdoc />
    public Task<bool> RemoveRowAsync(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_rows.TryGetValue((grainId, reminderName), out var row) && row.ETag == eTag)
            {
                _rows.Remove((grainId, reminderName));
                return Task.FromResult(true);
            }
            return Task.FromResult(false);
        }
    }
}
