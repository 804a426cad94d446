using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The live sessions of this silo that were idle long enough (Sessions:DormantAfter) to give up their activation.
/// For each it keeps only the session id and the time it must be woken: its warning time, or its deadline. At that
/// time it calls <see cref="ISessionGrain.WakeAsync"/>, which activates the session from storage; the fresh
/// activation publishes the warning or ends the session as a timer of its own would have.
/// A call for a dormant session activates it the same way, and the activation takes it off this table.
/// </summary>
/// <remarks>
/// An idle session then costs its stored state and one entry here instead of an activation, its state object and
/// its timers, which is what keeps a silo's heap small with a million idle sessions. Nothing here is durable: after
/// a crash the deadline index (the janitor) ends the sessions, as it does for the activations a crash loses.
/// Entries taken off the table stay in the time queue until their time, where they are skipped; the queue is
/// rebuilt when stale entries outnumber live ones.
/// </remarks>
internal sealed class DormantSessions : IDisposable
{
    /// <summary>How many wake calls run at once.</summary>
    private const int WakeBatch = 256;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _wakeAt = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _queue = new();
    private readonly SessionServices _services;
    private readonly IServiceProvider _serviceProvider;
    private readonly Lock _timerGate = new();
    private IGrainFactory? _grainFactory;
    private TimeProvider? _time;
    private ITimer? _timer;
    private long _armedTicks = long.MaxValue;
    private bool _draining;
    private bool _disposed;

    public DormantSessions(SessionServices services, IServiceProvider serviceProvider)
    {
        _services = services;
        _serviceProvider = serviceProvider;
    }

    /// <summary>Dormant sessions on this silo.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _wakeAt.Count;
            }
        }
    }

    /// <summary>
    /// Records a session whose activation is being released: it is woken at <paramref name="wakeAt"/> on
    /// <paramref name="time"/>, the grain clock (every session grain of a silo passes the same one).
    /// </summary>
    public void Add(TimeProvider time, string sessionId, DateTimeOffset wakeAt)
    {
        var ticks = wakeAt.UtcTicks;
        bool rearm;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            if (_time is null)
            {
                _grainFactory = (IGrainFactory?)_serviceProvider.GetService(typeof(IGrainFactory))
                    ?? throw new InvalidOperationException("The silo has no IGrainFactory.");
                _time = time;
                _timer = time.CreateTimer(static state => ((DormantSessions)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
            if (!_wakeAt.TryAdd(sessionId, ticks))
            {
                _wakeAt[sessionId] = ticks;
            }
            else
            {
                _services.Metrics.DormantChanged(1);
            }
            _queue.Enqueue(sessionId, ticks);
            rearm = !_draining && ticks < _armedTicks;
            if (rearm)
            {
                _armedTicks = ticks;
            }
        }
        if (rearm)
        {
            Arm();
        }
    }

    /// <summary>Takes a session off the table (it was activated, or it ended). Cheap when it is not there.</summary>
    public void Remove(string sessionId)
    {
        lock (_gate)
        {
            if (_wakeAt.Count == 0 || !_wakeAt.Remove(sessionId))
            {
                return;
            }
            _services.Metrics.DormantChanged(-1);
            if (_queue.Count > 1024 && _queue.Count > 2 * _wakeAt.Count)
            {
                // Mostly stale: rebuild from the live entries.
                _queue.Clear();
                foreach (var (id, ticks) in _wakeAt)
                {
                    _queue.Enqueue(id, ticks);
                }
            }
        }
    }

    /// <summary>Sets the timer to the time currently wanted (several threads may get here; each applies the latest).</summary>
    private void Arm()
    {
        lock (_timerGate)
        {
            long ticks;
            TimeProvider? time;
            lock (_gate)
            {
                ticks = _armedTicks;
                time = _time;
                if (_draining || _disposed || time is null)
                {
                    return;
                }
            }
            var due = ticks == long.MaxValue
                ? Timeout.InfiniteTimeSpan
                : TimeSpan.FromTicks(Math.Max(0, ticks - time.GetUtcNow().UtcTicks));
            _timer?.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            if (_draining || _disposed)
            {
                return;
            }
            _draining = true;
            _armedTicks = long.MaxValue;
        }
        // Never inline: the timer may fire on the thread of a caller holding a grain turn.
        ThreadPool.UnsafeQueueUserWorkItem(static self => _ = self.DrainAsync(), this, preferLocal: false);
    }

    /// <summary>Wakes every session whose time has come, a batch at a time, then sets the timer to the next one.</summary>
    private async Task DrainAsync()
    {
        var batch = new List<string>(WakeBatch);
        var calls = new List<Task>(WakeBatch);
        while (true)
        {
            lock (_gate)
            {
                var now = _time!.GetUtcNow().UtcTicks;
                while (batch.Count < WakeBatch && _queue.TryPeek(out var id, out var ticks) && ticks <= now)
                {
                    _queue.Dequeue();
                    if (_wakeAt.TryGetValue(id, out var current) && current == ticks)
                    {
                        _wakeAt.Remove(id);
                        batch.Add(id);
                    }
                }
                if (batch.Count == 0)
                {
                    _draining = false;
                    _armedTicks = _queue.TryPeek(out _, out var next) ? next : long.MaxValue;
                    if (_disposed)
                    {
                        return;
                    }
                }
            }
            if (batch.Count == 0)
            {
                Arm();
                return;
            }
            _services.Metrics.DormantChanged(-batch.Count);
            foreach (var id in batch)
            {
                calls.Add(WakeAsync(id));
            }
            await Task.WhenAll(calls).ConfigureAwait(false);
            batch.Clear();
            calls.Clear();
        }
    }

    private async Task WakeAsync(string sessionId)
    {
        try
        {
            await _grainFactory!.GetGrain<ISessionGrain>(sessionId).WakeAsync().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // The deadline index still holds the session: the janitor ends it if nothing else does.
            SessionLog.DormantWakeFailed(_services.SessionLogger, exception, sessionId);
        }
    }

    public void Dispose()
    {
        ITimer? timer;
        lock (_gate)
        {
            _disposed = true;
            timer = _timer;
            _timer = null;
        }
        timer?.Dispose();
    }
}
