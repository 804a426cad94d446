using OrleansSessions.Runtime.Catalog;
using OrleansSessions.Timers;

namespace OrleansSessions.Runtime.Timers;

/// <summary>
/// A grain timer. Each tick is a turn of its activation; the next tick is scheduled only after the
/// callback completes, so ticks never overlap. Change and Dispose bump a version, which makes already
/// scheduled ticks void.
/// </summary>
internal sealed class GrainTimer : IGrainTimer, ITimerTarget
{
    private readonly ActivationData _activation;
    private readonly TimerScheduler _scheduler;
    private readonly Func<object?, CancellationToken, Task> _callback;
    private readonly object? _state;
    private readonly bool _keepAlive;
    private readonly TimerSlot _slot;
    private long _version;
    private TimeSpan _period;
    private bool _scheduled;
    private bool _stopped;

    public GrainTimer(ActivationData activation, TimerScheduler scheduler, Func<object?, CancellationToken, Task> callback, object? state, GrainTimerCreationOptions options)
    {
        _activation = activation;
        _scheduler = scheduler;
        _callback = callback;
        _state = state;
        _keepAlive = options.KeepAlive;
        Interleave = options.Interleave;
        _slot = new TimerSlot(this);
    }

    public bool Interleave { get; }

    /// <summary>True when this timer keeps its activation from idle collection: KeepAlive and a tick pending.</summary>
    public bool KeepsAlive
    {
        get
        {
            lock (this)
            {
                return _keepAlive && _scheduled && !_stopped;
            }
        }
    }

    public void Change(TimeSpan dueTime, TimeSpan period)
    {
        if (dueTime < TimeSpan.Zero && dueTime != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(dueTime));
        }
        if (period <= TimeSpan.Zero && period != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(period));
        }
        long version;
        lock (this)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            version = ++_version;
            _period = period;
            _scheduled = dueTime != Timeout.InfiniteTimeSpan;
        }
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            _scheduler.Schedule(_slot, version, _scheduler.Clock.GetUtcNow().UtcTicks + dueTime.Ticks);
        }
    }

    public void OnDue(long version)
    {
        lock (this)
        {
            if (_stopped || version != _version)
            {
                return;
            }
        }
        _activation.Enqueue(new TimerTickWorkItem(this, version));
    }

    internal async ValueTask RunTickAsync(long version)
    {
        lock (this)
        {
            if (_stopped || version != _version)
            {
                return;
            }
        }
        try
        {
            await _callback(_state, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            TimeSpan period;
            lock (this)
            {
                period = _period;
                if (_stopped || version != _version || period == Timeout.InfiniteTimeSpan)
                {
                    if (version == _version)
                    {
                        _scheduled = false;
                    }
                    period = Timeout.InfiniteTimeSpan;
                }
            }
            if (period != Timeout.InfiniteTimeSpan)
            {
                _scheduler.Schedule(_slot, version, _scheduler.Clock.GetUtcNow().UtcTicks + period.Ticks);
            }
        }
    }

    /// <summary>Stops the timer without removing it from the activation (the activation is clearing its list).</summary>
    internal void Stop()
    {
        lock (this)
        {
            _stopped = true;
            _version++;
            _scheduled = false;
            _slot.Target = null; // stale heap entries no longer keep the activation alive
        }
    }

    public void Dispose()
    {
        Stop();
        _activation.RemoveTimer(this);
    }
}
