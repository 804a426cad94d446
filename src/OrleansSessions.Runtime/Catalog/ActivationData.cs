using Microsoft.Extensions.Logging;
using OrleansSessions.Events;
using OrleansSessions.Invocation;
using OrleansSessions.Reminders;
using OrleansSessions.Runtime.Reminders;
using OrleansSessions.Runtime.Timers;
using OrleansSessions.Timers;

namespace OrleansSessions.Runtime.Catalog;

/// <summary>
/// One activation: the grain instance and its turn queue. Turns run one at a time; a request of the
/// call chain that the running turn is waiting on (A -> B -> A) and [AlwaysInterleave] requests may
/// enter while it awaits, which is what keeps call cycles from deadlocking. When the activation is idle
/// a call runs inline on the caller's thread, with no queueing.
/// </summary>
internal sealed partial class ActivationData : IGrainContext, IGrainFactory, IGrainCallInvoker
{
    private const int MaxTurnsPerDispatch = 64;
    // Allocated on first use and locked through this object: an idle activation carries no queue and no lock object.
    private Queue<WorkItem>? _queue;
    private readonly GrainCatalog _catalog;
    private object? _instance;
    private bool _running;
    private long _runningChain;
    private int _interleaved;
    private long _lastUsedTicks;
    private long _keepAliveUntilTicks;
    private bool _deactivateOnIdle;
    private DeactivationReason _deactivationReason;
    private List<GrainTimer>? _timers;
    private List<IActivationParticipant>? _participants;
    private TaskCompletionSource? _deactivated;
    private GrainReminderRegistry? _reminders;

    public ActivationData(GrainId grainId, GrainCatalog catalog)
    {
        GrainId = grainId;
        _catalog = catalog;
        _lastUsedTicks = catalog.IdleClockTicks();
    }

    public GrainId GrainId { get; }

    public ActivationState State { get; private set; } = ActivationState.Creating;

    public object? Instance => _instance;

    public IGrainFactory GrainFactory => this;

    public IServiceProvider ActivationServices => _catalog.Services;

    public TimeProvider TimeProvider => _catalog.GrainClock;

    public IEventPublisher Events => _catalog.Events;

    public IReminderRegistry Reminders => _reminders ??= new GrainReminderRegistry(GrainId, _catalog.ReminderService);

    internal GrainCatalog Catalog => _catalog;

    /// <summary>The chain of the running turn; calls made by this grain carry it.</summary>
    internal long CurrentChainId => Volatile.Read(ref _runningChain);

    public TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey
        => GrainInterfaceRegistry.CreateProxy<TGrainInterface>(key, this);

    ValueTask<TResult> IGrainCallInvoker.InvokeAsync<TResult>(GrainId target, GrainRequest<TResult> request)
        => _catalog.RuntimeClient.InvokeAsync(target, request, CurrentChainId is var chain && chain != 0 ? chain : SiloRuntimeClient.NewChainId());

    void IGrainCallInvoker.InvokeOneWay(GrainId target, GrainRequest request)
        => _catalog.RuntimeClient.InvokeOneWay(target, request);

    public void DeactivateOnIdle()
    {
        lock (this)
        {
            if (State is ActivationState.Valid or ActivationState.Activating)
            {
                _deactivateOnIdle = true;
                _deactivationReason = new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "DeactivateOnIdle was called.");
            }
        }
    }

    public void DelayDeactivation(TimeSpan timeSpan)
    {
        var until = _catalog.IdleClockTicks() + timeSpan.Ticks;
        if (until > Volatile.Read(ref _keepAliveUntilTicks))
        {
            Volatile.Write(ref _keepAliveUntilTicks, until);
        }
    }

    public IGrainTimer RegisterGrainTimer(Func<object?, CancellationToken, Task> callback, object? state, GrainTimerCreationOptions options)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (options.DueTime < TimeSpan.Zero && options.DueTime != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "DueTime must be >= 0 or infinite.");
        }
        if (options.Period <= TimeSpan.Zero && options.Period != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Period must be > 0 or infinite.");
        }
        var timer = new GrainTimer(this, _catalog.TimerScheduler, callback, state, options);
        lock (this)
        {
            if (State is ActivationState.Invalid or ActivationState.Deactivating)
            {
                throw new InvalidOperationException("Cannot register a timer on a deactivating grain.");
            }
            (_timers ??= []).Add(timer);
        }
        timer.Change(options.DueTime, options.Period);
        return timer;
    }

    internal void RemoveTimer(GrainTimer timer)
    {
        lock (this)
        {
            _timers?.Remove(timer);
        }
    }

    internal void AddParticipant(IActivationParticipant participant)
    {
        lock (this)
        {
            (_participants ??= []).Add(participant);
        }
    }

    internal int TimerCount
    {
        get
        {
            lock (this)
            {
                return _timers?.Count ?? 0;
            }
        }
    }

    private int QueueCount => _queue?.Count ?? 0;

    /// <summary>Takes every queued item (under the lock).</summary>
    private List<WorkItem> Drain()
    {
        if (_queue is null)
        {
            return [];
        }
        List<WorkItem> items = [.. _queue];
        _queue = null;
        return items;
    }

    /// <summary>Runs a request inline on the caller's thread when the activation is idle (or the request re-enters its own chain); otherwise returns false.</summary>
    public bool TryInvokeInline<TResult>(GrainRequest<TResult> request, long chainId, out ValueTask<TResult> result)
    {
        bool interleave;
        lock (this)
        {
            if (State != ActivationState.Valid || _deactivateOnIdle)
            {
                result = default;
                return false;
            }
            if (!_running && QueueCount == 0)
            {
                _running = true;
                _runningChain = chainId;
                interleave = false;
            }
            else if (_running && (chainId == _runningChain || (request.Flags & InvokeFlags.AlwaysInterleave) != 0))
            {
                _interleaved++;
                interleave = true;
            }
            else
            {
                result = default;
                return false;
            }
        }
        _lastUsedTicks = _catalog.IdleClockTicks();
        ValueTask<TResult> pending;
        try
        {
            pending = request.InvokeAsync(_instance!);
        }
        catch (Exception ex)
        {
            pending = ValueTask.FromException<TResult>(ex);
        }
        if (pending.IsCompleted)
        {
            if (interleave)
            {
                EndInterleaved();
            }
            else
            {
                EndTurn();
            }
            result = pending;
            return true;
        }
        result = AwaitInline(pending, interleave);
        return true;
    }

    private async ValueTask<TResult> AwaitInline<TResult>(ValueTask<TResult> pending, bool interleave)
    {
        try
        {
            return await pending.ConfigureAwait(false);
        }
        finally
        {
            if (interleave)
            {
                EndInterleaved();
            }
            else
            {
                EndTurn();
            }
        }
    }

    /// <summary>Queues a turn, or starts it now when the activation is idle.</summary>
    public void Enqueue(WorkItem item)
    {
        WorkItem? start = null;
        var interleave = false;
        var reject = false;
        lock (this)
        {
            if (State == ActivationState.Invalid)
            {
                reject = true;
            }
            else if (!_running)
            {
                _running = true;
                if (State == ActivationState.Creating)
                {
                    State = ActivationState.Activating;
                    (_queue ??= new Queue<WorkItem>(2)).Enqueue(item);
                    start = new ActivateWorkItem();
                }
                else if (QueueCount > 0)
                {
                    (_queue ??= new Queue<WorkItem>(2)).Enqueue(item);
                    start = _queue!.Dequeue();
                }
                else
                {
                    start = item;
                }
            }
            else if (State == ActivationState.Valid && (item.AlwaysInterleave || (item.ChainId != 0 && item.ChainId == _runningChain)))
            {
                _interleaved++;
                interleave = true;
            }
            else
            {
                (_queue ??= new Queue<WorkItem>(2)).Enqueue(item);
            }
        }
        if (reject)
        {
            item.Reject(this);
        }
        else if (interleave)
        {
            RunInterleaved(item);
        }
        else if (start is not null)
        {
            if (start is ActivateWorkItem)
            {
                // Activation does I/O and user code: keep it off the caller's thread.
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.Activation.RunTurns(s.Item, 0), (Activation: this, Item: start), preferLocal: false);
            }
            else
            {
                RunTurns(start, 0);
            }
        }
    }

    private async void RunInterleaved(WorkItem item)
    {
        try
        {
            await item.ExecuteAsync(this).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogTurnFailed(_catalog.Logger, GrainId, ex);
        }
        finally
        {
            EndInterleaved();
        }
    }

    private void EndInterleaved()
    {
        lock (this)
        {
            _interleaved--;
        }
    }

    private void RunTurns(WorkItem item, int executed)
    {
        while (true)
        {
            _runningChain = item.ChainId;
            _lastUsedTicks = _catalog.IdleClockTicks();
            ValueTask pending;
            try
            {
                pending = item.ExecuteAsync(this);
            }
            catch (Exception ex)
            {
                pending = ValueTask.FromException(ex);
            }
            if (!pending.IsCompleted)
            {
                AwaitTurn(pending);
                return;
            }
            ObserveTurn(pending);
            if (!TryDequeueNext(out var next))
            {
                return;
            }
            if (++executed >= MaxTurnsPerDispatch)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.Activation.RunTurns(s.Item, 0), (Activation: this, Item: next), preferLocal: true);
                return;
            }
            item = next;
        }
    }

    private void ObserveTurn(ValueTask completed)
    {
        try
        {
            completed.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            LogTurnFailed(_catalog.Logger, GrainId, ex);
        }
    }

    private async void AwaitTurn(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogTurnFailed(_catalog.Logger, GrainId, ex);
        }
        if (TryDequeueNext(out var next))
        {
            RunTurns(next, 0);
        }
    }

    private void EndTurn()
    {
        if (TryDequeueNext(out var next))
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Activation.RunTurns(s.Item, 0), (Activation: this, Item: next), preferLocal: true);
        }
    }

    private bool TryDequeueNext(out WorkItem next)
    {
        lock (this)
        {
            if (_deactivateOnIdle && State == ActivationState.Valid)
            {
                _deactivateOnIdle = false;
                State = ActivationState.Deactivating;
                next = new DeactivateWorkItem(_deactivationReason);
                return true;
            }
            if (_queue is not null && _queue.TryDequeue(out next!))
            {
                return true;
            }
            _running = false;
            _runningChain = 0;
            next = null!;
            return false;
        }
    }

    /// <summary>True when nothing is running or queued and the activation was unused for <paramref name="ageTicks"/>.</summary>
    internal bool IsInactiveFor(long nowTicks, long ageTicks, bool ignoreKeepAlive = false)
    {
        lock (this)
        {
            if (State != ActivationState.Valid || _running || _interleaved > 0 || QueueCount > 0 || _deactivateOnIdle)
            {
                return false;
            }
            if (nowTicks - _lastUsedTicks < ageTicks)
            {
                return false;
            }
            if (ignoreKeepAlive)
            {
                return true;
            }
            if (nowTicks < Volatile.Read(ref _keepAliveUntilTicks))
            {
                return false;
            }
            if (_timers is not null)
            {
                foreach (var timer in _timers)
                {
                    if (timer.KeepsAlive)
                    {
                        return false;
                    }
                }
            }
            return true;
        }
    }

    /// <summary>Starts deactivation unless it has started already; completes when the activation is gone.</summary>
    internal Task DeactivateAsync(DeactivationReason reason)
    {
        lock (this)
        {
            _deactivated ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (State == ActivationState.Invalid)
            {
                _deactivated.TrySetResult();
                return _deactivated.Task;
            }
            if (State == ActivationState.Creating)
            {
                State = ActivationState.Invalid;
                _catalog.Remove(this);
                _deactivated.TrySetResult();
                return _deactivated.Task;
            }
            if (!_deactivateOnIdle && State is ActivationState.Valid or ActivationState.Activating)
            {
                _deactivateOnIdle = true;
                _deactivationReason = reason;
            }
        }
        // Kick the queue so that an idle activation processes its deactivation now.
        Enqueue(NoOpWorkItem.Instance);
        return _deactivated.Task;
    }

    /// <summary>Drops the activation without running any grain code (the silo is being killed).</summary>
    internal void Abort()
    {
        List<WorkItem> rejected;
        lock (this)
        {
            State = ActivationState.Invalid;
            rejected = Drain();
                        DisposeTimersLocked();
        }
        foreach (var item in rejected)
        {
            item.Fail(new SiloUnavailableException("The silo is stopping."));
        }
    }

    private void DisposeTimersLocked()
    {
        if (_timers is null)
        {
            return;
        }
        foreach (var timer in _timers.ToArray())
        {
            timer.Stop();
        }
        _timers.Clear();
    }

    internal async ValueTask ActivateAsync()
    {
        try
        {
            var factory = _catalog.GetFactory(GrainId.InterfaceId);
            GrainContextAccessor.Constructing = this;
            try
            {
                _instance = factory(_catalog.Services, this);
            }
            finally
            {
                GrainContextAccessor.Constructing = null;
            }
            using var cts = new CancellationTokenSource(_catalog.ActivationTimeout);
            if (_participants is not null)
            {
                foreach (var participant in _participants.ToArray())
                {
                    await participant.OnActivateAsync(cts.Token).ConfigureAwait(false);
                }
                _participants = null; // only needed for activation
            }
            if (_instance is Grain grain)
            {
                await grain.OnActivateAsync(cts.Token).ConfigureAwait(false);
            }
            lock (this)
            {
                if (State == ActivationState.Activating)
                {
                    State = ActivationState.Valid;
                }
            }
            _catalog.OnActivated(this);
        }
        catch (Exception ex)
        {
            LogActivationFailed(_catalog.Logger, GrainId, ex);
            List<WorkItem> failed;
            lock (this)
            {
                State = ActivationState.Invalid;
                failed = Drain();
                                DisposeTimersLocked();
            }
            _catalog.Remove(this);
            foreach (var item in failed)
            {
                item.Fail(ex);
            }
            _deactivated?.TrySetResult();
        }
    }

    internal async ValueTask RunDeactivationAsync(DeactivationReason reason)
    {
        lock (this)
        {
            State = ActivationState.Deactivating;
            DisposeTimersLocked();
        }
        if (_instance is Grain grain)
        {
            try
            {
                using var cts = new CancellationTokenSource(_catalog.DeactivationTimeout);
                await grain.OnDeactivateAsync(reason, cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogDeactivationFailed(_catalog.Logger, GrainId, ex);
            }
        }
        List<WorkItem> rejected;
        lock (this)
        {
            State = ActivationState.Invalid;
            rejected = Drain();
                        _deactivated ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        _catalog.Remove(this);
        _instance = null;
        foreach (var item in rejected)
        {
            item.Reject(this);
        }
        _deactivated.TrySetResult();
    }

    public override string ToString() => $"[Activation {GrainId} {State}]";

    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "A turn of {GrainId} failed")]
    private static partial void LogTurnFailed(ILogger logger, GrainId grainId, Exception exception);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Activation of {GrainId} failed")]
    private static partial void LogActivationFailed(ILogger logger, GrainId grainId, Exception exception);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "OnDeactivateAsync of {GrainId} failed")]
    private static partial void LogDeactivationFailed(ILogger logger, GrainId grainId, Exception exception);
}
