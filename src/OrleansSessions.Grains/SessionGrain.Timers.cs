using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The session grain's one timer: it fires at the warning point (publishes "expiring") and at the deadline (ends the
/// session), whichever is next.
/// </summary>
/// <remarks>
/// <para>
/// An Orleans grain timer (RegisterGrainTimer) on the grain's <see cref="TimeProvider"/>, one-shot and re-armed
/// lazily: a touch moves the deadline without touching the timer; when the timer fires early (the deadline moved
/// later) it re-arms for the next point. The deadline only moves later, so the armed time is never past the next point
/// that matters. One timer rather than two halves what a live session's timers cost in memory.
/// </para>
/// <para>
/// Dormancy (Sessions:DormantAfter &gt; 0): the timer does not keep the activation, so Orleans' idle collection takes
/// a session that had no call for Sessions:DormantAfter (the session type's collection age, set by
/// AddOrleansSessions). Its deactivation leaves the exact deadline in the deadline index, and tells its janitor
/// partition when its next point falls inside the partition's loaded window; the partition wakes it at its warning
/// point or deadline (<see cref="ISessionLifecycleGrain.WakeAsync"/>). Once its warning is published a session
/// stays activated until its deadline (DelayDeactivation), and ends on its own timer. With Sessions:DormantAfter = 0
/// a live session keeps its activation until its deadline. Either way the janitor covers activations lost with their
/// silo.
/// </para>
/// </remarks>
internal sealed partial class SessionGrain
{
    // Keeps the activation past its deadline by this much, so the timer (not idle collection) decides.
    private static readonly TimeSpan KeepAliveMargin = TimeSpan.FromMinutes(1);

    private IGrainTimer? _timer;

    // The deadline for which "expiring" was published (default: none yet).
    private DateTimeOffset _warnedDeadline;

    private void StartLive(DateTimeOffset now)
    {
        if (!_countedActivation)
        {
            _countedActivation = true;
            _services.Metrics.ActivationStarted();
        }
        ArmTimers(now);
    }

    /// <summary>
    /// Stops the timer and the live count. While the activation stays (the session ended), it also gives up the
    /// keep-alive so idle collection can take it; during deactivation there is nothing to give up, and an activation
    /// that a shutdown has already invalidated refuses DelayDeactivation.
    /// </summary>
    private void StopLive(bool deactivating = false)
    {
        _timer?.Dispose();
        _timer = null;
        if (_countedActivation)
        {
            _countedActivation = false;
            _services.Metrics.ActivationStopped();
            if (!deactivating)
            {
                DelayDeactivation(TimeSpan.Zero);
            }
        }
    }

    /// <summary>
    /// Arms the timer for the next point (warning or deadline). Keeps the activation until the deadline when dormancy
    /// is off or the warning has been published; otherwise idle collection may take it (dormancy).
    /// </summary>
    private void ArmTimers(DateTimeOffset now)
    {
        var dormancy = _services.Options.DormantAfter > TimeSpan.Zero;
        if (!dormancy || _warnedDeadline == State.ExpiresAt)
        {
            DelayDeactivation(Until(State.ExpiresAt, now) + KeepAliveMargin);
        }
        var due = Until(NextPoint(), now);
        if (_timer is null)
        {
            _timer = this.RegisterGrainTimer(static (self, _) => self.OnTimerAsync(), this, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = !dormancy });
        }
        else
        {
            _timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The warning point while the warning for the current deadline is still to come, else the deadline.</summary>
    private DateTimeOffset NextPoint()
    {
        var state = State;
        return _warnedDeadline != state.ExpiresAt && state.WarningAt(_services.Options.WarningBefore) is { } warnAt
            ? warnAt
            : state.ExpiresAt;
    }

    private async Task OnTimerAsync()
    {
        try
        {
            await OnPointAsync(_time.GetUtcNow());
        }
        catch (Exception exception)
        {
            SessionLog.SessionTimerFailed(_services.SessionLogger, exception, this.GetPrimaryKeyString());
        }
    }

    /// <summary>
    /// What the timer does, and what a janitor's wake does to a live session: ends it when due (true), publishes the
    /// warning when its point has come, re-arms the timer and lets the index follow a deadline that moved.
    /// </summary>
    private async Task<bool> OnPointAsync(DateTimeOffset now)
    {
        var state = State;
        if (!state.IsLive)
        {
            return false;
        }
        if (state.IsDueAt(now))
        {
            await ExpireAsync(now);
            return true;
        }
        if (_warnedDeadline != state.ExpiresAt && state.WarningAt(_services.Options.WarningBefore) is { } warnAt && now >= warnAt)
        {
            _warnedDeadline = state.ExpiresAt;
            _services.Metrics.Expiring();
            SessionLog.SessionExpiring(_services.SessionLogger, state.SessionId, state.UserId, state.ExpiresAt);
            await WarnAsync(state.ToInfo(_services.Options), now);
        }
        // Early (touched since it was armed) or just warned: on to the next point, and let the index follow.
        ArmTimers(now);
        if (state.ExpiresAt > _indexedDeadline)
        {
            await TryUpsertIndexAsync(CancellationToken.None);
        }
        return false;
    }

    /// <summary>
    /// At the deactivation of a live session: tells its janitor partition its next point when that point may fall
    /// inside the partition's loaded window (within Janitor:Window from now), so the partition wakes it in time; a later
    /// point is loaded from the index with a later window. Best effort: the partition's next window load and its
    /// sweep find the session through its row whatever happens here.
    /// </summary>
    private async Task TellJanitorAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var point = NextPoint();
        if (point > now + _services.Janitor.Window)
        {
            return;
        }
        try
        {
            var janitor = GrainFactory.GetGrain<IJanitorQueueGrain>(JanitorGrain.Key(_partition));
            await janitor.ScheduleAsync(this.GetPrimaryKeyString(), point, State.ExpiresAt).WaitAsync(cancellationToken);
        }
        catch (Exception exception)
        {
            SessionLog.JanitorNotifyFailed(_services.SessionLogger, exception, this.GetPrimaryKeyString());
        }
    }
}
