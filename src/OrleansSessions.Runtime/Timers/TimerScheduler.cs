namespace OrleansSessions.Runtime.Timers;

/// <summary>Something the scheduler can wake at a due time.</summary>
internal interface ITimerTarget
{
    /// <summary>Called on a timer thread (or inside a manual clock's Advance) when due. Must be quick.</summary>
    void OnDue(long version);
}

/// <summary>
/// What the scheduler's heap holds for a target: clearing <see cref="Target"/> when the timer stops lets the
/// target (and the activation behind it) be collected at once instead of when the stale entry falls due.
/// </summary>
internal sealed class TimerSlot(ITimerTarget target)
{
    public volatile ITimerTarget? Target = target;
}

/// <summary>
/// The one silo-wide timer facility: a priority queue of deadlines driven by a single timer of the grain
/// <see cref="TimeProvider"/>. Scheduling is O(log n); cancelling is O(1) (stale entries are skipped by
/// version), so a million grain timers cost one timer and one heap.
/// </summary>
internal sealed class TimerScheduler : IDisposable
{
    private readonly PriorityQueue<(TimerSlot Slot, long Version), long> _queue = new();
    private readonly Lock _lock = new();
    private readonly TimeProvider _clock;
    private readonly ITimer _timer;
    private long _armedFor = long.MaxValue;
    private bool _disposed;

    public TimerScheduler(TimeProvider clock)
    {
        _clock = clock;
        _timer = clock.CreateTimer(static s => ((TimerScheduler)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public TimeProvider Clock => _clock;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Schedules <paramref name="target"/> to be called with <paramref name="version"/> at <paramref name="dueUtcTicks"/>.</summary>
    public void Schedule(ITimerTarget target, long version, long dueUtcTicks) => Schedule(new TimerSlot(target), version, dueUtcTicks);

    /// <summary>Schedules the target of <paramref name="slot"/>; nothing happens if the slot is cleared before it is due.</summary>
    public void Schedule(TimerSlot slot, long version, long dueUtcTicks)
    {
        bool rearm;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _queue.Enqueue((slot, version), dueUtcTicks);
            rearm = dueUtcTicks < _armedFor;
            if (rearm)
            {
                _armedFor = dueUtcTicks;
            }
        }
        if (rearm)
        {
            Arm(dueUtcTicks);
        }
    }

    private void Arm(long dueUtcTicks)
    {
        var delay = TimeSpan.FromTicks(Math.Max(0, dueUtcTicks - _clock.GetUtcNow().UtcTicks));
        try
        {
            _timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Fire()
    {
        List<(TimerSlot Slot, long Version)>? due = null;
        long next;
        lock (_lock)
        {
            var now = _clock.GetUtcNow().UtcTicks;
            while (_queue.TryPeek(out var entry, out var at) && at <= now)
            {
                _queue.Dequeue();
                (due ??= []).Add(entry);
            }
            next = _queue.TryPeek(out _, out var nextAt) ? nextAt : long.MaxValue;
            _armedFor = next;
        }
        if (next != long.MaxValue)
        {
            Arm(next);
        }
        if (due is null)
        {
            return;
        }
        foreach (var (slot, version) in due)
        {
            try
            {
                slot.Target?.OnDue(version);
            }
            catch (Exception)
            {
                // A target's failure must not stop the others; targets report their own errors.
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _queue.Clear();
        }
        _timer.Dispose();
    }
}
