namespace OrleansSessions.Benchmarks.Baselines;

/// <summary>
/// The seed's design in C#: one dictionary of session records behind one lock; extend_timeout sets last_activity;
/// a cleanup thread removes sessions idle past the timeout every cleanup interval (5 minutes in the seed).
/// </summary>
internal sealed class DictionarySessionManager
{
    private readonly Dictionary<string, SessionRecord> _sessions = [];
    private readonly Lock _lock = new();
    private readonly TimeSpan _idleTimeout;

    public DictionarySessionManager(TimeSpan idleTimeout)
    {
        _idleTimeout = idleTimeout;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    public string Create(string userId)
    {
        var id = "sess_" + Guid.NewGuid().ToString("D");
        var now = DateTime.UtcNow;
        lock (_lock)
        {
            _sessions[id] = new SessionRecord(userId, now, now);
        }
        return id;
    }

    public bool ExtendTimeout(string id)
    {
        var now = DateTime.UtcNow;
        lock (_lock)
        {
            ref var record = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_sessions, id);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref record))
            {
                return false;
            }
            record = record with { LastActivity = now };
            return true;
        }
    }

    /// <summary>One pass of the cleanup thread: removes every session idle past the timeout; reports each removal's lag past its deadline.</summary>
    public int Cleanup(Action<TimeSpan>? lag = null)
    {
        var now = DateTime.UtcNow;
        var removed = 0;
        lock (_lock)
        {
            List<string>? dead = null;
            foreach (var (id, record) in _sessions)
            {
                var deadline = record.LastActivity + _idleTimeout;
                if (deadline <= now)
                {
                    (dead ??= []).Add(id);
                    lag?.Invoke(now - deadline);
                }
            }
            if (dead is not null)
            {
                foreach (var id in dead)
                {
                    _sessions.Remove(id);
                }
                removed = dead.Count;
            }
        }
        return removed;
    }

    private readonly record struct SessionRecord(string UserId, DateTime CreatedAt, DateTime LastActivity);
}
