using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;
using OrleansSessions.Storage;
using OrleansSessions.Timers;

namespace OrleansSessions.Grains;

/// <summary>
/// One session. Every answer is computed from its timestamps and the grain clock at call time; timers only make
/// the end (and its event) happen without a caller.
/// </summary>
/// <remarks>
/// <para>
/// Hot path: <see cref="TouchAsync"/> updates two fields and writes the state; it does not touch timers or the
/// deadline index. The expiry timer is armed at the deadline known when it was armed; when it fires and the
/// deadline has moved later it re-arms itself and refreshes the index row (lazy re-arm), so a session touched
/// a million times a second re-arms at most once per idle period.
/// </para>
/// <para>
/// Any call that finds the deadline passed on a session that has not ended ends it on the spot, so a session
/// ends exactly once (turns of one activation never overlap) whichever of timer, caller or janitor comes first.
/// An end is stored first, then reported: user grain (one-way), event, deadline index, deactivation.
/// </para>
/// </remarks>
internal sealed class SessionGrain : Grain, ISessionGrain
{
    internal const string StateName = "session";

    /// <summary>A session due to wake sooner than this stays activated rather than going dormant.</summary>
    private static readonly TimeSpan MinimumDormancy = TimeSpan.FromSeconds(1);

    private readonly IPersistentState<SessionState> _state;
    private readonly SessionServices _services;
    private readonly bool _validKey;
    private readonly int _partition;

    private IGrainTimer? _expiryTimer;
    private IGrainTimer? _warningTimer;
    private IGrainTimer? _dormancyTimer;

    // Set when this activation deactivates itself to go dormant (see OnDormancyTimer).
    private bool _goingDormant;

    // An upper bound of the deadline held by this session's row in the deadline index.
    private DateTimeOffset _indexedDeadline;

    // The deadline for which "expiring" was published (default: none since the last re-arm).
    private DateTimeOffset _warnedDeadline;

    private bool _countedActivation;

    public SessionGrain(IPersistentStateFactory stateFactory, SessionServices services)
    {
        ArgumentNullException.ThrowIfNull(stateFactory);
        _services = services;
        _state = stateFactory.Create<SessionState>(GrainContext, StateName);
        var key = GetPrimaryKeyString();
        _validKey = SessionKeys.IsValidSessionId(key);
        _partition = _validKey ? SessionDeadlinePartitioner.GetPartition(key, services.Janitor.Partitions) : 0;
    }

    private bool Exists => _state.State.SessionId.Length != 0;

    private bool IsLive => _state.State.Status == SessionStatus.Active && _state.State.SessionId.Length != 0;

    /// <remarks>The runtime has read the state before this runs.</remarks>
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var warned = _validKey ? _services.Dormant.Remove(GetPrimaryKeyString()) : default;
        if (_validKey && IsLive)
        {
            // Whatever the index holds was written from a deadline no later than the stored one.
            _indexedDeadline = _state.State.ExpiresAt;
            StartLive(TimeProvider.GetUtcNow());
            if (warned != default && warned == _state.State.ExpiresAt)
            {
                // Published while the session was dormant: not again for this deadline.
                _warnedDeadline = warned;
            }
        }
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        StopLive();
        if (_validKey && IsLive && _state.State.ExpiresAt > _indexedDeadline)
        {
            // Saves the janitor from waking this session only to learn that it was touched meanwhile.
            await TryUpsertIndexAsync(cancellationToken);
        }
        if (_goingDormant && _validKey && IsLive)
        {
            // Decided earlier: whatever time it is now, the table wakes it at once if that is past.
            _services.Dormant.Add(TimeProvider, GetPrimaryKeyString(), DormantWakeTime());
            _services.Metrics.WentDormantOnce();
        }
    }

    public async Task<SessionInfo> CreateAsync(string userId)
    {
        ThrowIfInvalidKey();
        SessionKeys.ThrowIfInvalidUserId(userId);
        if (Exists)
        {
            throw new SessionAlreadyExistsException($"Session {GetPrimaryKeyString()} already exists.");
        }

        var options = _services.Options;
        var now = TimeProvider.GetUtcNow();
        var state = new SessionState
        {
            SessionId = GetPrimaryKeyString(),
            UserId = userId,
            CreatedAt = now,
            LastActivity = now,
            ExpiresAt = Min(now + options.IdleTimeout, now + options.AbsoluteTimeout),
            Status = SessionStatus.Active,
        };

        // The row goes in before the state: a stored live session always has a row the janitor can find.
        await _services.DeadlineIndex.UpsertAsync(state.SessionId, state.UserId, state.ExpiresAt, _partition);
        _indexedDeadline = state.ExpiresAt;
        _state.State = state;
        try
        {
            await _state.WriteStateAsync();
        }
        catch (InconsistentStateException exception)
        {
            _state.State = new SessionState();
            DeactivateOnIdle();
            throw new SessionAlreadyExistsException($"Session {state.SessionId} already exists.", exception);
        }
        catch
        {
            _state.State = new SessionState();
            DeactivateOnIdle();
            throw;
        }

        StartLive(now);
        var info = ToInfo(state);
        _services.Metrics.SessionCreated();
        SessionLog.SessionCreated(_services.SessionLogger, state.SessionId, state.UserId, state.ExpiresAt);
        Publish(SessionEventType.Created, info, now);
        return info;
    }

    public ValueTask<bool> IsActiveAsync()
    {
        ThrowIfInvalidKey();
        var state = _state.State;
        if (state.Status == SessionStatus.Active && state.SessionId.Length != 0)
        {
            var now = TimeProvider.GetUtcNow();
            if (now < state.ExpiresAt)
            {
                return new ValueTask<bool>(true);
            }
            return ExpireThenFalseAsync(now);
        }
        DeactivateOnIdle();
        return new ValueTask<bool>(false);

        async ValueTask<bool> ExpireThenFalseAsync(DateTimeOffset now)
        {
            await ExpireAsync(now);
            return false;
        }
    }

    public ValueTask<SessionInfo> TouchAsync()
    {
        ThrowIfInvalidKey();
        var state = _state.State;
        if (state.Status != SessionStatus.Active || state.SessionId.Length == 0)
        {
            return ValueTask.FromException<SessionInfo>(EndedOrMissing(state));
        }

        var now = TimeProvider.GetUtcNow();
        if (now >= state.ExpiresAt)
        {
            return ExpireThenThrowAsync(now);
        }

        var options = _services.Options;
        var previousDeadline = state.ExpiresAt;
        var deadline = Min(now + options.IdleTimeout, state.CreatedAt + options.AbsoluteTimeout);
        state.LastActivity = now;
        state.ExpiresAt = deadline;
        if (_warnedDeadline != default && deadline != _warnedDeadline)
        {
            RearmWarning(now);
        }
        if (deadline < previousDeadline)
        {
            // Only after the timeouts were shortened by configuration: the index row and the timer may now be
            // later than the real deadline, which the index contract forbids.
            return ShortenedDeadlineAsync(now);
        }

        Task write;
        try
        {
            write = _state.WriteStateAsync();
        }
        catch (Exception exception)
        {
            return ValueTask.FromException<SessionInfo>(WriteFailed(exception));
        }
        if (write.IsCompletedSuccessfully)
        {
            return new ValueTask<SessionInfo>(ToInfo(state));
        }
        return AwaitWriteAsync(write);

        async ValueTask<SessionInfo> ExpireThenThrowAsync(DateTimeOffset now)
        {
            await ExpireAsync(now);
            throw new SessionExpiredException($"Session {GetPrimaryKeyString()} has expired.");
        }

        async ValueTask<SessionInfo> AwaitWriteAsync(Task pending)
        {
            try
            {
                await pending;
            }
            catch (Exception exception)
            {
                throw await ConflictAsync(exception);
            }
            return ToInfo(_state.State);
        }

        async ValueTask<SessionInfo> ShortenedDeadlineAsync(DateTimeOffset now)
        {
            await _services.DeadlineIndex.UpsertAsync(GetPrimaryKeyString(), _state.State.UserId, _state.State.ExpiresAt, _partition);
            _indexedDeadline = _state.State.ExpiresAt;
            ArmTimers(now);
            try
            {
                await _state.WriteStateAsync();
            }
            catch (Exception exception)
            {
                throw await ConflictAsync(exception);
            }
            return ToInfo(_state.State);
        }
    }

    public ValueTask<SessionInfo> GetAsync()
    {
        ThrowIfInvalidKey();
        var state = _state.State;
        if (state.SessionId.Length == 0)
        {
            DeactivateOnIdle();
            return ValueTask.FromException<SessionInfo>(NotFound());
        }
        if (state.Status == SessionStatus.Active)
        {
            var now = TimeProvider.GetUtcNow();
            if (now >= state.ExpiresAt)
            {
                return new ValueTask<SessionInfo>(ExpireAsync(now));
            }
        }
        else
        {
            DeactivateOnIdle();
        }
        return new ValueTask<SessionInfo>(ToInfo(state));
    }

    public Task<SessionInfo> CloseAsync()
    {
        ThrowIfInvalidKey();
        var state = _state.State;
        if (state.SessionId.Length == 0)
        {
            DeactivateOnIdle();
            return Task.FromException<SessionInfo>(NotFound());
        }
        if (state.Status != SessionStatus.Active)
        {
            DeactivateOnIdle();
            return Task.FromResult(ToInfo(state));
        }
        var now = TimeProvider.GetUtcNow();
        // Past its deadline the session was no longer active: it expired, whatever the caller meant to do.
        return now >= state.ExpiresAt ? ExpireAsync(now) : EndCoreAsync(EndReason.Logout, now);
    }

    public async Task<SessionInfo?> EndAsync(EndReason reason)
    {
        ThrowIfInvalidKey();
        if (!Enum.IsDefined(reason))
        {
            throw new ArgumentException($"Unknown end reason {(int)reason}.", nameof(reason));
        }
        var state = _state.State;
        if (state.SessionId.Length == 0)
        {
            DeactivateOnIdle();
            return null;
        }
        if (state.Status != SessionStatus.Active)
        {
            DeactivateOnIdle();
            return ToInfo(state);
        }
        var now = TimeProvider.GetUtcNow();
        if (now >= state.ExpiresAt)
        {
            return await ExpireAsync(now);
        }
        if (reason is EndReason.IdleTimeout or EndReason.AbsoluteTimeout)
        {
            // A timeout that has not happened: the caller's view was stale. Fix the index row and stay active.
            await UpsertIndexAsync();
            return ToInfo(state);
        }
        return await EndCoreAsync(reason, now);
    }

    public async Task<bool> ExpireIfDueAsync()
    {
        if (!_validKey)
        {
            DeactivateOnIdle();
            return false;
        }
        var state = _state.State;
        if (state.SessionId.Length == 0)
        {
            // A row without a session: its creation failed after the row was written, or it was forgotten.
            await _services.DeadlineIndex.RemoveAsync(GetPrimaryKeyString(), _partition);
            DeactivateOnIdle();
            return false;
        }
        if (state.Status != SessionStatus.Active)
        {
            // Ended, but the row survived: the end's follow-up was cut short (crash). Finish it; the user grain
            // records an end once however often it hears of it.
            NotifyUser(ToInfo(state));
            await _services.DeadlineIndex.RemoveAsync(state.SessionId, _partition);
            DeactivateOnIdle();
            return false;
        }
        var now = TimeProvider.GetUtcNow();
        if (now >= state.ExpiresAt)
        {
            await ExpireAsync(now);
            return true;
        }
        await UpsertIndexAsync();
        return false;
    }

    public Task WakeAsync()
    {
        if (!_validKey || !IsLive)
        {
            DeactivateOnIdle();
            return Task.CompletedTask;
        }
        // The warning timer's work: end if due, else warn if due (once per deadline), else nothing.
        return OnWarningTimerAsync();
    }

    public async Task ForgetAsync()
    {
        if (!_validKey || !Exists)
        {
            DeactivateOnIdle();
            return;
        }
        if (_state.State.Status == SessionStatus.Active)
        {
            // Only ended sessions leave history; a live one is never forgotten.
            return;
        }
        var sessionId = _state.State.SessionId;
        await _state.ClearStateAsync();
        _state.State = new SessionState();
        await _services.DeadlineIndex.RemoveAsync(sessionId, _partition);
        SessionLog.SessionForgotten(_services.SessionLogger, sessionId);
        DeactivateOnIdle();
    }

    private Task<SessionInfo> ExpireAsync(DateTimeOffset now)
        => EndCoreAsync(TimeoutReason(_state.State, _services.Options.AbsoluteTimeout), now);

    /// <summary>Which timeout ended a session that reached its deadline: the absolute cap when that is what the deadline was.</summary>
    internal static EndReason TimeoutReason(SessionState state, TimeSpan absoluteTimeout)
        => state.ExpiresAt >= state.CreatedAt + absoluteTimeout ? EndReason.AbsoluteTimeout : EndReason.IdleTimeout;

    /// <summary>Marks a live session past its deadline as expired at its deadline (the janitor's and the dormant table's end without an activation).</summary>
    internal static void MarkTimedOut(SessionState state, TimeSpan absoluteTimeout)
    {
        state.EndReason = TimeoutReason(state, absoluteTimeout);
        state.Status = SessionStatus.Expired;
        state.EndedAt = state.ExpiresAt;
    }

    /// <summary>Ends the live session: store, then report to the user grain, subscribers, the index and metrics.</summary>
    private async Task<SessionInfo> EndCoreAsync(EndReason reason, DateTimeOffset now)
    {
        var state = _state.State;
        var isTimeout = reason is EndReason.IdleTimeout or EndReason.AbsoluteTimeout;
        var deadline = state.ExpiresAt;
        state.Status = isTimeout ? SessionStatus.Expired : SessionStatus.Closed;
        // A timed-out session stopped being active at its deadline, however late the end is processed.
        state.EndedAt = isTimeout ? deadline : now;
        state.EndReason = reason;
        try
        {
            await _state.WriteStateAsync();
        }
        catch (Exception exception)
        {
            // Storage may or may not hold the end: drop this activation so the next call reads what it holds.
            state.Status = SessionStatus.Active;
            state.EndedAt = null;
            state.EndReason = null;
            if (exception is InconsistentStateException && await TryAdoptStoredEndAsync())
            {
                // Ended meanwhile by someone else (the janitor's bulk sweep), who stored and reported that end.
                return _state.State.SessionId.Length != 0 ? ToInfo(_state.State) : throw NotFound();
            }
            throw WriteFailed(exception);
        }

        StopLive();
        var info = ToInfo(state);
        NotifyUser(info);
        Publish(isTimeout ? SessionEventType.Expired : reason == EndReason.Evicted ? SessionEventType.Evicted : SessionEventType.Closed, info, now);
        try
        {
            await _services.DeadlineIndex.RemoveAsync(state.SessionId, _partition);
        }
        catch (Exception exception)
        {
            // The janitor will find the row, see the session ended and remove it.
            SessionLog.DeadlineIndexWriteFailed(_services.SessionLogger, exception, state.SessionId);
        }

        if (isTimeout)
        {
            ReportTimedOut(_services, info, now);
        }
        else
        {
            _services.Metrics.SessionEnded(reason);
            if (reason == EndReason.Evicted)
            {
                SessionLog.SessionEvicted(_services.SessionLogger, state.SessionId, state.UserId);
            }
            else
            {
                SessionLog.SessionClosed(_services.SessionLogger, state.SessionId, state.UserId, SessionMetrics.ReasonName(reason));
            }
        }
        DeactivateOnIdle();
        return info;
    }

    private async Task OnExpiryTimerAsync()
    {
        try
        {
            if (!IsLive)
            {
                return;
            }
            var state = _state.State;
            var now = TimeProvider.GetUtcNow();
            if (now >= state.ExpiresAt)
            {
                await ExpireAsync(now);
                return;
            }
            // Touched since the timer was armed: follow the deadline, and let the index follow too.
            _expiryTimer?.Change(Until(state.ExpiresAt, now), Timeout.InfiniteTimeSpan);
            if (state.ExpiresAt > _indexedDeadline)
            {
                await TryUpsertIndexAsync(CancellationToken.None);
            }
        }
        catch (Exception exception)
        {
            SessionLog.SessionTimerFailed(_services.SessionLogger, exception, GetPrimaryKeyString());
        }
    }

    private async Task OnWarningTimerAsync()
    {
        try
        {
            if (!IsLive)
            {
                return;
            }
            var state = _state.State;
            var now = TimeProvider.GetUtcNow();
            if (now >= state.ExpiresAt)
            {
                await ExpireAsync(now);
                return;
            }
            var warnAt = state.ExpiresAt - _services.Options.WarningBefore;
            if (now < warnAt)
            {
                _warningTimer?.Change(warnAt - now, Timeout.InfiniteTimeSpan);
                return;
            }
            if (_warnedDeadline == state.ExpiresAt)
            {
                return;
            }
            // Not re-armed here: the next touch that moves the deadline re-arms it (see TouchAsync).
            _warnedDeadline = state.ExpiresAt;
            _services.Metrics.Expiring();
            SessionLog.SessionExpiring(_services.SessionLogger, state.SessionId, state.UserId, state.ExpiresAt);
            Publish(SessionEventType.Expiring, ToInfo(state), now);
        }
        catch (Exception exception)
        {
            SessionLog.SessionTimerFailed(_services.SessionLogger, exception, GetPrimaryKeyString());
        }
    }

    private void StartLive(DateTimeOffset now)
    {
        if (!_countedActivation)
        {
            _countedActivation = true;
            _services.Metrics.ActivationStarted();
        }
        ArmTimers(now);
        var dormantAfter = _services.Options.DormantAfter;
        if (dormantAfter > TimeSpan.Zero && _dormancyTimer is null)
        {
            var due = Until(_state.State.LastActivity + dormantAfter, now);
            _dormancyTimer = RegisterGrainTimer(static (self, _) => self.OnDormancyTimer(), this, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan));
        }
    }

    /// <summary>
    /// Idle for Sessions:DormantAfter: the activation goes away and the silo's table of dormant sessions wakes the
    /// session at its warning time or deadline (see <see cref="DormantSessions"/>). Not within reach of either: the
    /// activation then sees the session to its end, unless a touch moves the deadline and it looks again.
    /// </summary>
    private Task OnDormancyTimer()
    {
        if (!IsLive)
        {
            return Task.CompletedTask;
        }
        var dormantAfter = _services.Options.DormantAfter;
        var now = TimeProvider.GetUtcNow();
        var idleUntil = _state.State.LastActivity + dormantAfter;
        if (now < idleUntil)
        {
            _dormancyTimer?.Change(idleUntil - now, Timeout.InfiniteTimeSpan);
        }
        else if (DormantWakeTime() - now < MinimumDormancy)
        {
            _dormancyTimer?.Change(dormantAfter, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _goingDormant = true;
            DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    /// <summary>When a dormant session must be woken: its warning time, else its deadline.</summary>
    private DateTimeOffset DormantWakeTime()
    {
        var warningBefore = _services.Options.WarningBefore;
        return warningBefore > TimeSpan.Zero ? _state.State.ExpiresAt - warningBefore : _state.State.ExpiresAt;
    }

    private void StopLive()
    {
        _expiryTimer?.Dispose();
        _expiryTimer = null;
        _warningTimer?.Dispose();
        _warningTimer = null;
        _dormancyTimer?.Dispose();
        _dormancyTimer = null;
        if (_countedActivation)
        {
            _countedActivation = false;
            _services.Metrics.ActivationStopped();
        }
    }

    private void ArmTimers(DateTimeOffset now)
    {
        var deadline = _state.State.ExpiresAt;
        var due = Until(deadline, now);
        if (_expiryTimer is null)
        {
            _expiryTimer = RegisterGrainTimer(static (self, _) => self.OnExpiryTimerAsync(), this, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = true });
        }
        else
        {
            _expiryTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
        RearmWarning(now);
    }

    private void RearmWarning(DateTimeOffset now)
    {
        _warnedDeadline = default;
        var warningBefore = _services.Options.WarningBefore;
        if (warningBefore <= TimeSpan.Zero)
        {
            return;
        }
        var due = Until(_state.State.ExpiresAt - warningBefore, now);
        if (_warningTimer is null)
        {
            _warningTimer = RegisterGrainTimer(static (self, _) => self.OnWarningTimerAsync(), this, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan));
        }
        else
        {
            _warningTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task UpsertIndexAsync()
    {
        var state = _state.State;
        // The key's string, not the state's copy: an in-memory index then shares it with the activation and storage.
        await _services.DeadlineIndex.UpsertAsync(GetPrimaryKeyString(), state.UserId, state.ExpiresAt, _partition);
        _indexedDeadline = state.ExpiresAt;
    }

    private async Task TryUpsertIndexAsync(CancellationToken cancellationToken)
    {
        var state = _state.State;
        try
        {
            await _services.DeadlineIndex.UpsertAsync(GetPrimaryKeyString(), state.UserId, state.ExpiresAt, _partition, cancellationToken);
            _indexedDeadline = state.ExpiresAt;
        }
        catch (Exception exception)
        {
            // The old row is earlier than the real deadline, which is safe: the janitor asks, the session re-checks.
            SessionLog.DeadlineIndexWriteFailed(_services.SessionLogger, exception, state.SessionId);
        }
    }

    private void NotifyUser(SessionInfo info)
    {
        // One-way: the user grain may be calling this grain right now (evict, close-all); waiting could deadlock.
        _ = GrainFactory.GetGrain<IUserSessionsGrain>(info.UserId).SessionEndedAsync(info);
    }

    /// <summary>Metrics and log line of a session that timed out, processed at <paramref name="now"/> (also used by the janitor's bulk end).</summary>
    internal static void ReportTimedOut(SessionServices services, SessionInfo info, DateTimeOffset now)
    {
        var reason = info.EndReason ?? EndReason.IdleTimeout;
        var deadline = info.ExpiresAt;
        var lag = now - deadline;
        services.Metrics.SessionEnded(reason);
        services.Metrics.ExpiryLag(lag);
        SessionLog.SessionExpired(services.SessionLogger, info.SessionId, info.UserId, SessionMetrics.ReasonName(reason), deadline, Math.Max(0, lag.TotalMilliseconds));
    }

    private void Publish(SessionEventType type, SessionInfo info, DateTimeOffset now)
        => GrainContext.Events.Publish(SessionTopics.Events, new SessionEvent { Type = type, Session = info, At = now });

    /// <summary>The exception for a caller whose write failed; after an ETag conflict, what storage holds decides it.</summary>
    private async Task<Exception> ConflictAsync(Exception exception)
    {
        if (exception is InconsistentStateException && await TryAdoptStoredEndAsync())
        {
            return EndedOrMissing(_state.State);
        }
        return WriteFailed(exception);
    }

    /// <summary>
    /// After an ETag conflict: reads the stored state. True when it holds an ended session (or none), which this
    /// activation then adopts without reporting it again; false when the read failed or the stored session is
    /// live (another activation wrote it), and the caller fails as for any other write error.
    /// </summary>
    private async Task<bool> TryAdoptStoredEndAsync()
    {
        try
        {
            await _state.ReadStateAsync();
        }
        catch (Exception)
        {
            return false;
        }
        if (IsLive)
        {
            return false;
        }
        StopLive();
        DeactivateOnIdle();
        var stored = _state.State;
        SessionLog.SessionEndAdopted(_services.SessionLogger, GetPrimaryKeyString(), stored.SessionId.Length == 0 ? "missing" : stored.Status.ToString());
        return true;
    }

    private Exception WriteFailed(Exception exception)
    {
        StopLive();
        DeactivateOnIdle();
        return exception;
    }

    private Exception EndedOrMissing(SessionState state)
    {
        if (state.SessionId.Length == 0)
        {
            DeactivateOnIdle();
            return NotFound();
        }
        DeactivateOnIdle();
        return state.Status == SessionStatus.Closed
            ? new SessionClosedException($"Session {state.SessionId} was closed.")
            : new SessionExpiredException($"Session {state.SessionId} has expired.");
    }

    private SessionNotFoundException NotFound() => new($"Session {GetPrimaryKeyString()} does not exist.");

    private void ThrowIfInvalidKey()
    {
        if (!_validKey)
        {
            DeactivateOnIdle();
            throw new ArgumentException("A session id is 'sess_' followed by a lower-case UUIDv4.", "sessionId");
        }
    }

    internal static SessionInfo ToInfo(SessionState state) => new()
    {
        SessionId = state.SessionId,
        UserId = state.UserId,
        CreatedAt = state.CreatedAt,
        LastActivity = state.LastActivity,
        ExpiresAt = state.ExpiresAt,
        Status = state.Status,
        EndedAt = state.EndedAt,
        EndReason = state.EndReason,
    };

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a <= b ? a : b;

    private static TimeSpan Until(DateTimeOffset when, DateTimeOffset now) => when > now ? when - now : TimeSpan.Zero;
}
