using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>The session grain's timers: one at the deadline (ends the session) and one at the warning point.</summary>
/// <remarks>
/// Both are Orleans grain timers (RegisterGrainTimer) on the grain's <see cref="TimeProvider"/>, one-shot and re-armed
/// lazily: a touch moves the deadline without touching a timer; the timer that fires early finds the later deadline
/// and re-arms. The activation of a live session is kept until its deadline (DelayDeactivation), so idle collection
/// cannot take the timers away; the janitor covers activations lost with their silo.
/// </remarks>
internal sealed partial class SessionGrain
{
    // Keeps the activation past its deadline by this much, so the expiry timer (not idle collection) decides.
    private static readonly TimeSpan KeepAliveMargin = TimeSpan.FromMinutes(1);

    private IGrainTimer? _expiryTimer;
    private IGrainTimer? _warningTimer;

    // The deadline for which "expiring" was published (default: none since the last re-arm).
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

    private void StopLive()
    {
        _expiryTimer?.Dispose();
        _expiryTimer = null;
        _warningTimer?.Dispose();
        _warningTimer = null;
        if (_countedActivation)
        {
            _countedActivation = false;
            _services.Metrics.ActivationStopped();
            DelayDeactivation(TimeSpan.Zero);
        }
    }

    private void ArmTimers(DateTimeOffset now)
    {
        var due = Until(State.ExpiresAt, now);
        KeepUntilDeadline(due);
        if (_expiryTimer is null)
        {
            _expiryTimer = this.RegisterGrainTimer(static (self, _) => self.OnExpiryTimerAsync(), this, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = true });
        }
        else
        {
            _expiryTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
        RearmWarning(now);
    }

    /// <summary>A touch moved the deadline: a warning already given was for the old deadline, so arm it again.</summary>
    private void OnDeadlineMoved(DateTimeOffset now)
    {
        if (_warnedDeadline != default)
        {
            RearmWarning(now);
        }
    }

    private void KeepUntilDeadline(TimeSpan untilDeadline) => DelayDeactivation(untilDeadline + KeepAliveMargin);

    private void RearmWarning(DateTimeOffset now)
    {
        _warnedDeadline = default;
        if (State.WarningAt(_services.Options.WarningBefore) is not { } warnAt)
        {
            return;
        }
        var due = Until(warnAt, now);
        if (_warningTimer is null)
        {
            _warningTimer = this.RegisterGrainTimer(static (self, _) => self.OnWarningTimerAsync(), this, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan));
        }
        else
        {
            _warningTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>What every timer does first: nothing for an ended session, the end for one past its deadline. Returns the time when the session is still live.</summary>
    private async Task<DateTimeOffset?> EndIfDueAsync()
    {
        var state = State;
        if (!state.IsLive)
        {
            return null;
        }
        var now = _time.GetUtcNow();
        if (state.IsDueAt(now))
        {
            await ExpireAsync(now);
            return null;
        }
        return now;
    }

    private async Task OnExpiryTimerAsync()
    {
        try
        {
            if (await EndIfDueAsync() is not { } now)
            {
                return;
            }
            var state = State;
            // Touched since the timer was armed: follow the deadline, and let the index follow too.
            var due = Until(state.ExpiresAt, now);
            KeepUntilDeadline(due);
            _expiryTimer?.Change(due, Timeout.InfiniteTimeSpan);
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

    private async Task OnWarningTimerAsync()
    {
        try
        {
            if (await EndIfDueAsync() is not { } now)
            {
                return;
            }
            var state = State;
            if (state.WarningAt(_services.Options.WarningBefore) is not { } warnAt)
            {
                return;
            }
            if (now < warnAt)
            {
                _warningTimer?.Change(warnAt - now, Timeout.InfiniteTimeSpan);
                return;
            }
            if (_warnedDeadline == state.ExpiresAt)
            {
                return;
            }
            // Not re-armed here: the next touch that moves the deadline re-arms it (see OnDeadlineMoved).
            _warnedDeadline = state.ExpiresAt;
            _services.Metrics.Expiring();
            SessionLog.SessionExpiring(_services.SessionLogger, state.SessionId, state.UserId, state.ExpiresAt);
            await PublishAsync(SessionEventType.Expiring, state.ToInfo(), now);
        }
        catch (Exception exception)
        {
            SessionLog.SessionTimerFailed(_services.SessionLogger, exception, this.GetPrimaryKeyString());
        }
    }
}
