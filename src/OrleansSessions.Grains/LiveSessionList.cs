namespace OrleansSessions.Grains;

/// <summary>
/// A user grain's in-memory index of its live session ids: where each is stored (a sealed page or the header's tail)
/// and the order they were created in, so a page of them can be read after a cursor. Built when the grain activates,
/// from the header and its pages; never stored itself.
/// </summary>
internal sealed class LiveSessionList
{
    /// <summary>How many of the newest live ids the header holds before they are sealed into a page; also a page's size.</summary>
    public const int TailLimit = 128;

    /// <summary>The "page" of an id still in the header's tail.</summary>
    public const int Tail = -1;

    // Cursors name the last session of a page, which may end before the next page is asked for: removed ids keep
    // their place for a while.
    private const int RememberedRemovals = 4_096;

    private readonly SortedSet<long> _ordinals = [];
    private readonly Dictionary<long, string> _idAt = [];
    private readonly Dictionary<string, (long Ordinal, int Page)> _entries = new(StringComparer.Ordinal);
    // Allocated at the first removal: most users never page, and a user grain with one session should stay small.
    private Dictionary<string, long>? _removed;
    private Queue<string>? _removedOrder;
    private long _nextOrdinal;

    /// <summary>How many live ids the user has.</summary>
    public int Count => _entries.Count;

    /// <summary>The oldest live id, or null.</summary>
    public string? Oldest => _ordinals.Count == 0 ? null : _idAt[_ordinals.Min];

    public bool Contains(string sessionId) => _entries.ContainsKey(sessionId);

    /// <summary>The page holding <paramref name="sessionId"/> (<see cref="Tail"/> for the header's tail), or null when it is not live.</summary>
    public int? PageOf(string sessionId) => _entries.TryGetValue(sessionId, out var entry) ? entry.Page : null;

    /// <summary>Appends <paramref name="sessionId"/> as the newest, stored in <paramref name="page"/>. False when it is already listed.</summary>
    public bool Add(string sessionId, int page)
    {
        if (_entries.ContainsKey(sessionId))
        {
            return false;
        }
        var ordinal = _nextOrdinal++;
        _entries[sessionId] = (ordinal, page);
        _ordinals.Add(ordinal);
        _idAt[ordinal] = sessionId;
        _removed?.Remove(sessionId);
        return true;
    }

    /// <summary>Records that a listed id is now stored in <paramref name="page"/> (its tail was sealed).</summary>
    public void Move(string sessionId, int page)
    {
        if (_entries.TryGetValue(sessionId, out var entry))
        {
            _entries[sessionId] = (entry.Ordinal, page);
        }
    }

    /// <summary>Removes <paramref name="sessionId"/>; returns the page it was stored in, or null when it was not listed.</summary>
    public int? Remove(string sessionId)
    {
        if (!_entries.Remove(sessionId, out var entry))
        {
            return null;
        }
        _ordinals.Remove(entry.Ordinal);
        _idAt.Remove(entry.Ordinal);
        _removed ??= new Dictionary<string, long>(StringComparer.Ordinal);
        _removedOrder ??= new Queue<string>();
        _removed[sessionId] = entry.Ordinal;
        _removedOrder.Enqueue(sessionId);
        while (_removedOrder.Count > RememberedRemovals)
        {
            var old = _removedOrder.Dequeue();
            if (!_entries.ContainsKey(old))
            {
                _removed.Remove(old);
            }
        }
        return entry.Page;
    }

    /// <summary>The place of a cursor: a live id, or one removed lately. False when the id is unknown.</summary>
    public bool TryFindCursor(string sessionId, out long ordinal)
    {
        if (_entries.TryGetValue(sessionId, out var entry))
        {
            ordinal = entry.Ordinal;
            return true;
        }
        ordinal = -1;
        return _removed is not null && _removed.TryGetValue(sessionId, out ordinal);
    }

    /// <summary>Up to <paramref name="count"/> live ids created after the one at <paramref name="ordinal"/> (-1: from the oldest), oldest first.</summary>
    public List<(long Ordinal, string SessionId)> After(long ordinal, int count)
    {
        var result = new List<(long, string)>(Math.Min(count, _ordinals.Count));
        if (_ordinals.Count == 0 || ordinal >= _ordinals.Max)
        {
            return result;
        }
        foreach (var at in _ordinals.GetViewBetween(ordinal + 1, long.MaxValue))
        {
            if (result.Count == count)
            {
                break;
            }
            result.Add((at, _idAt[at]));
        }
        return result;
    }

    /// <summary>Every live id, oldest first.</summary>
    public List<string> All()
    {
        var result = new List<string>(_ordinals.Count);
        foreach (var at in _ordinals)
        {
            result.Add(_idAt[at]);
        }
        return result;
    }

    public void Clear()
    {
        _ordinals.Clear();
        _idAt.Clear();
        _entries.Clear();
        _removed = null;
        _removedOrder = null;
    }
}
