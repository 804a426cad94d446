using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The session grain's one timer: it fires at the warning point (publishes "expiring") and at the deadline (ends the
/// session), whichever is next.
/// </summary>
/// <remarks>
/// An Orleans grain timer (RegisterGrainTimer) on the grain's <see cref="TimeProvider"/>, one-shot and re-armed
/// lazily: a touch moves the deadline without touching the timer; when the timer fires early (the deadline moved
/// later) it re-arms for the next point. The deadline only moves later, so the armed time is never past the next point
/// that matters. One timer rather than two halves what a live session's timers cost in memory. The activation of a
/// live session is kept until its deadline (DelayDeactivation), so idle collection cannot take the timer away; the
/// janitor covers activations lost with their silo.
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

    /// <summary>Arms the timer for the next point (warning or deadline) and keeps the activation until the deadline.</summary>
    private void ArmTimers(DateTimeOffset now)
    {
        DelayDeactivation(Until(State.ExpiresAt, now) + KeepAliveMargin);
        var due = Until(NextPoint(), now);
        if (_timer is null)
        {
            _timer = this.RegisterGrainTimer(static (self, _) => self.OnTimerAsync(), this, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = true });
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
            var state = State;
            if (!state.IsLive)
            {
                return;
            }
            var now = _time.GetUtcNow();
            if (state.IsDueAt(now))
            {
                await ExpireAsync(now);
                return;
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
        }
        catch (Exception exception)
        {
            SessionLog.SessionTimerFailed(_services.SessionLogger, exception, this.GetPrimaryKeyString());
        }
    }
}
