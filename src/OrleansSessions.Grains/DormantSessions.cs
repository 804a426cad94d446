using OrleansSessions.Events;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Invocation;
using OrleansSessions.Serialization;
using OrleansSessions.Sessions;
using OrleansSessions.Storage;

namespace OrleansSessions.Grains;

/// <summary>
/// The live sessions of this silo that were idle long enough (Sessions:DormantAfter) to give up their activation.
/// For each it keeps only the session id and the time it must be woken: its warning time, or its deadline. At that
/// time it does the session's timer work on its stored state, without an activation: it reads the state, publishes
/// the expiring warning (and keeps the session dormant until its deadline), or ends the session with a
/// compare-and-swap write and reports the end as the grain does (user grain, event, deadline index, metrics, log).
/// Whatever it cannot settle that way (the stored state changed under it, a read failed) it hands to the session
/// grain (<see cref="ISessionGrain.WakeAsync"/>), which activates and decides from its own timestamps. A call for a
/// dormant session activates it from storage, and the activation takes it off this table (learning whether its
/// warning was published).
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
    /// <summary>How many wake calls run at once, at most.</summary>
    private const int MaxWaking = 256;

    private readonly Lock _gate = new();
    private static readonly int SessionInterfaceId = GrainInterfaceRegistry.GetInterfaceId<ISessionGrain>();

    private readonly Dictionary<string, Entry> _wakeAt = new(StringComparer.Ordinal);

    // Sessions being woken right now; true once an activation took the session meanwhile.
    private readonly Dictionary<string, bool> _waking = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _queue = new();
    private readonly SessionServices _services;
    private readonly IServiceProvider _serviceProvider;
    private readonly Lock _timerGate = new();
    private readonly SemaphoreSlim _window = new(MaxWaking, MaxWaking);
    private IGrainFactory? _grainFactory;
    private IGrainStorage? _storage;
    private IEventPublisher? _events;
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
    public void Add(TimeProvider time, string sessionId, DateTimeOffset wakeAt, DateTimeOffset warnedDeadline = default)
    {
        var ticks = wakeAt.UtcTicks;
        var entry = new Entry(ticks, warnedDeadline.UtcTicks);
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
                _storage = (IGrainStorage?)_serviceProvider.GetService(typeof(IGrainStorage));
                _events = (IEventPublisher?)_serviceProvider.GetService(typeof(IEventPublisher));
                _time = time;
                _timer = time.CreateTimer(static state => ((DormantSessions)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
            if (!_wakeAt.TryAdd(sessionId, entry))
            {
                _wakeAt[sessionId] = entry;
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

    /// <summary>
    /// Takes a session off the table because it was activated; returns the deadline for which its expiring warning
    /// was published while it was dormant (default: none). Cheap when it is not there.
    /// </summary>
    public DateTimeOffset Remove(string sessionId)
    {
        lock (_gate)
        {
            if (_waking.Count != 0 && _waking.ContainsKey(sessionId))
            {
                _waking[sessionId] = true;
            }
            if (_wakeAt.Count == 0 || !_wakeAt.Remove(sessionId, out var removed))
            {
                return default;
            }
            _services.Metrics.DormantChanged(-1);
            if (_queue.Count > 1024 && _queue.Count > 2 * _wakeAt.Count)
            {
                // Mostly stale: rebuild from the live entries.
                _queue.Clear();
                foreach (var (id, entry) in _wakeAt)
                {
                    _queue.Enqueue(id, entry.WakeTicks);
                }
            }
            return removed.WarnedTicks == 0 ? default : new DateTimeOffset(removed.WarnedTicks, TimeSpan.Zero);
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

    /// <summary>
    /// Wakes every session whose time has come, each as soon as fewer than <see cref="MaxWaking"/> wake calls are
    /// running, then sets the timer to the next one.
    /// </summary>
    private async Task DrainAsync()
    {
        while (true)
        {
            await _window.WaitAsync().ConfigureAwait(false);
            string? id = null;
            var warned = 0L;
            lock (_gate)
            {
                var now = _disposed ? long.MinValue : _time!.GetUtcNow().UtcTicks;
                while (_queue.TryPeek(out var candidate, out var ticks) && ticks <= now)
                {
                    _queue.Dequeue();
                    if (!_wakeAt.TryGetValue(candidate, out var current) || current.WakeTicks != ticks)
                    {
                        continue;
                    }
                    if (!_waking.TryAdd(candidate, false))
                    {
                        // Its previous wake-up is still finishing: a millisecond later.
                        var later = now + TimeSpan.TicksPerMillisecond;
                        _wakeAt[candidate] = current with { WakeTicks = later };
                        _queue.Enqueue(candidate, later);
                        continue;
                    }
                    _wakeAt.Remove(candidate);
                    id = candidate;
                    warned = current.WarnedTicks;
                    break;
                }
                if (id is null)
                {
                    _draining = false;
                    _armedTicks = _queue.TryPeek(out _, out var next) ? next : long.MaxValue;
                }
            }
            if (id is null)
            {
                _window.Release();
                Arm();
                return;
            }
            _services.Metrics.DormantChanged(-1);
            _ = WakeAsync(id, warned);
        }
    }

    private async Task WakeAsync(string sessionId, long warnedTicks)
    {
        try
        {
            if (!await TryWakeInPlaceAsync(sessionId, warnedTicks).ConfigureAwait(false))
            {
                await _grainFactory!.GetGrain<ISessionGrain>(sessionId).WakeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception exception)
        {
            // The deadline index still holds the session: the janitor ends it if nothing else does.
            SessionLog.DormantWakeFailed(_services.SessionLogger, exception, sessionId);
        }
        finally
        {
            lock (_gate)
            {
                _waking.Remove(sessionId);
            }
            _window.Release();
        }
    }

    /// <summary>
    /// The timer work of a dormant session, done on its stored state. False when its grain must do it: the state
    /// could not be read or decoded, or it changed between the read and the end's write.
    /// </summary>
    private async Task<bool> TryWakeInPlaceAsync(string sessionId, long warnedTicks)
    {
        if (_storage is null || _events is null)
        {
            return false;
        }
        var grainId = new GrainId(SessionInterfaceId, sessionId);
        var record = await _storage.ReadAsync(SessionGrain.StateName, grainId, CancellationToken.None).ConfigureAwait(false);
        if (record.ETag is not { } etag || record.Data is not { } data)
        {
            return false;
        }
        SessionState state;
        try
        {
            state = CodecRegistry.Deserialize<SessionState>(data);
        }
        catch (SerializationException)
        {
            return false;
        }
        if (state.Status != SessionStatus.Active || state.SessionId.Length == 0 || ActivatedMeanwhile(sessionId))
        {
            // Ended (its end was reported by whoever ended it), or an activation has it now.
            return true;
        }
        var now = _time!.GetUtcNow();
        if (now >= state.ExpiresAt)
        {
            return await TryEndAsync(grainId, state, etag, now).ConfigureAwait(false);
        }
        var options = _services.Options;
        var warnAt = options.WarningBefore > TimeSpan.Zero ? state.ExpiresAt - options.WarningBefore : state.ExpiresAt;
        if (now < warnAt)
        {
            // Touched since it went dormant (through another silo): sleep on until the new time.
            Add(_time, sessionId, warnAt, new DateTimeOffset(warnedTicks, TimeSpan.Zero));
            return true;
        }
        if (warnedTicks != state.ExpiresAt.UtcTicks)
        {
            // As the warning timer of an activation does, once per deadline.
            _services.Metrics.Expiring();
            SessionLog.SessionExpiring(_services.SessionLogger, state.SessionId, state.UserId, state.ExpiresAt);
            _events.Publish(SessionTopics.Events, new SessionEvent { Type = SessionEventType.Expiring, Session = SessionGrain.ToInfo(state), At = now });
        }
        Add(_time, sessionId, state.ExpiresAt, state.ExpiresAt);
        return true;
    }

    /// <summary>Ends a session stored live past its deadline, as <c>SessionGrain</c> does: store, then user grain, event, index, metrics and log.</summary>
    private async Task<bool> TryEndAsync(GrainId grainId, SessionState state, string etag, DateTimeOffset now)
    {
        SessionGrain.MarkTimedOut(state, _services.Options.AbsoluteTimeout);
        try
        {
            await _storage!.WriteAsync(SessionGrain.StateName, grainId, CodecRegistry.Serialize(state), etag, CancellationToken.None).ConfigureAwait(false);
        }
        catch (InconsistentStateException)
        {
            return false;
        }
        var info = SessionGrain.ToInfo(state);
        _ = _grainFactory!.GetGrain<IUserSessionsGrain>(info.UserId).SessionEndedAsync(info);
        _events!.Publish(SessionTopics.Events, new SessionEvent { Type = SessionEventType.Expired, Session = info, At = now });
        try
        {
            await _services.DeadlineIndex.RemoveAsync(grainId.Key, SessionDeadlinePartitioner.GetPartition(grainId.Key, _services.Janitor.Partitions)).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // The janitor will find the row, see the session ended and remove it.
            SessionLog.DeadlineIndexWriteFailed(_services.SessionLogger, exception, info.SessionId);
        }
        SessionGrain.ReportTimedOut(_services, info, now);
        return true;
    }

    private bool ActivatedMeanwhile(string sessionId)
    {
        lock (_gate)
        {
            return _waking.TryGetValue(sessionId, out var activated) && activated;
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

    /// <summary>When to wake a session, and the deadline whose warning was published while it was dormant (0: none).</summary>
    private readonly record struct Entry(long WakeTicks, long WarnedTicks);
}
