using Orleans.Runtime;
using Orleans.Storage;
using Orleans.Streams;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// One session. Every answer is computed from its timestamps and the grain's <see cref="TimeProvider"/> at call time;
/// timers (see SessionGrain.Timers.cs) only make the end and the warning happen without a caller.
/// </summary>
/// <remarks>
/// <para>
/// Hot path: <see cref="TouchAsync"/> updates two fields and writes the state; it does not touch the timer or the
/// deadline index. The timer is armed at the point known when it was armed; when it fires and the deadline has moved
/// later it re-arms itself and refreshes the index row (lazy re-arm).
/// </para>
/// <para>
/// Any call that finds the deadline passed on a session that has not ended ends it on the spot, so a session ends
/// exactly once (turns of one activation never overlap) whichever of timer, caller or janitor comes first. Every end
/// goes through <see cref="EndCoreAsync"/>: stored first, then reported (user grain one-way, event, deadline index,
/// metrics and log), then the activation is deactivated.
/// </para>
/// <para>
/// Memory: a live session keeps its activation until it has had no call for Sessions:DormantAfter (the session type's
/// collection age, set by AddOrleansSessions), then goes dormant (see SessionGrain.Timers.cs); an ended one is
/// deactivated right after its end; an activation made later to read an ended session is collected after the same
/// age, and one made to read an unknown id deactivates at once (it holds nothing). Reads of ended sessions do
/// not deactivate: calls queued behind a deactivation are forwarded to the next activation, and if that one
/// deactivated too they would be forwarded on until Orleans rejects them.
/// </para>
/// </remarks>
[GrainType("session")]
internal sealed partial class SessionGrain : Grain, ISessionGrain, ISessionLifecycleGrain
{
    private readonly IPersistentState<SessionState> _state;
    private readonly SessionServices _services;
    private readonly TimeProvider _time;
    private readonly bool _validKey;
    private readonly int _partition;

    // An upper bound of the deadline held by this session's row in the deadline index.
    private DateTimeOffset _indexedDeadline;

    private bool _countedActivation;

    // Touches not yet written (Sessions:PersistTouches=false).
    private bool _unwrittenTouches;

    public SessionGrain(
        [PersistentState(SessionStorage.SessionStateName, SessionStorage.Name)] IPersistentState<SessionState> state,
        SessionServices services,
        TimeProvider time)
    {
        _state = state;
        _services = services;
        _time = time;
        var key = this.GetPrimaryKeyString();
        _validKey = SessionKeys.IsValidSessionId(key);
        _partition = _validKey ? SessionDeadlinePartitioner.GetPartition(key, services.Janitor.Partitions) : 0;
    }

    private SessionState State => _state.State;

    /// <remarks>Orleans has read the state before this runs.</remarks>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (_validKey)
        {
            await UpgradeLegacyDataAsync();
        }
        if (_validKey && State.IsLive)
        {
            // Whatever the index holds was written from a deadline no later than the stored one.
            _indexedDeadline = State.ExpiresAt;
            StartLive(_time.GetUtcNow());
        }
        if (_validKey && State.Outbox is { Count: > 0 })
        {
            // An event stored with its change whose append was cut off (crash), or already appended: the log records it once.
            await FlushOutboxAsync(State.ToInfo(_services.Options));
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        StopLive(deactivating: true);
        if (_unwrittenTouches && _validKey && State.IsLive)
        {
            await TryWriteTouchesAsync(reason.ReasonCode == DeactivationReasonCode.ShuttingDown);
        }
        if (_validKey && State.IsLive && State.ExpiresAt > _indexedDeadline)
        {
            // Saves the janitor from waking this session only to learn that it was touched meanwhile; a dormant
            // session's row holds its exact deadline.
            await TryUpsertIndexAsync(cancellationToken);
        }
        if (_validKey && State.IsLive)
        {
            await TellJanitorAsync(_time.GetUtcNow(), cancellationToken);
            if (reason.ReasonCode == DeactivationReasonCode.ActivationIdle)
            {
                _services.Metrics.WentDormant();
                SessionLog.SessionDormant(_services.SessionLogger, State.SessionId, NextPoint());
            }
        }
    }

    public async Task<SessionInfo> CreateAsync(string userId, SessionSeed? seed = null)
    {
        ThrowIfInvalidKey();
        SessionKeys.ThrowIfInvalidUserId(userId);
        if (State.Exists)
        {
            throw new SessionAlreadyExistsException($"Session {this.GetPrimaryKeyString()} already exists.");
        }

        var now = _time.GetUtcNow();
        var state = SessionState.Create(this.GetPrimaryKeyString(), userId, now, _services.Options, seed);
        state.RecordEvent(SessionEventType.Created, now);

        // The row goes in before the state: a stored live session always has a row the janitor can find; so do the
        // data records (the janitor clears those of a create that was cut off).
        await _services.DeadlineIndex.UpsertAsync(state.SessionId, state.UserId, state.ExpiresAt, _partition);
        _indexedDeadline = state.ExpiresAt;
        state.Data = await WriteSeedAsync(seed);
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

        // Every record this activation wrote is listed by the state it just stored.
        _unlistedRecords = false;
        StartLive(now);
        var info = state.ToInfo(_services.Options);
        _services.Metrics.SessionCreated();
        SessionLog.SessionCreated(_services.SessionLogger, state.SessionId, state.UserId, state.ExpiresAt);
        await FlushOutboxAsync(info);
        await PublishAsync(SessionEventType.Created, info, now);
        return info;
    }

    public ValueTask<bool> IsActiveAsync()
    {
        ThrowIfInvalidKey();
        var state = State;
        if (state.IsLive)
        {
            var now = _time.GetUtcNow();
            if (state.IsActiveAt(now))
            {
                return new ValueTask<bool>(true);
            }
            return ExpireThenFalseAsync(now);
        }
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
        var state = State;
        if (!state.IsLive)
        {
            return ValueTask.FromException<SessionInfo>(EndedOrMissing(state));
        }

        var now = _time.GetUtcNow();
        if (state.IsDueAt(now))
        {
            return ExpireThenThrowAsync(now);
        }

        var previousDeadline = state.Touch(now, _services.Options);
        if (state.ExpiresAt < previousDeadline)
        {
            // Only after the timeouts were shortened by configuration: the index row and the timer may now be later
            // than the real deadline, which the index contract forbids.
            return ShortenedDeadlineAsync(now);
        }
        return WriteTouchAsync();

        async ValueTask<SessionInfo> ExpireThenThrowAsync(DateTimeOffset now)
        {
            await ExpireAsync(now);
            throw new SessionExpiredException($"Session {this.GetPrimaryKeyString()} has expired.");
        }

        async ValueTask<SessionInfo> ShortenedDeadlineAsync(DateTimeOffset now)
        {
            await UpsertIndexAsync();
            ArmTimers(now);
            return await WriteTouchAsync();
        }
    }

    private ValueTask<SessionInfo> WriteTouchAsync()
    {
        if (!_services.Options.PersistTouches)
        {
            _unwrittenTouches = true;
            return new ValueTask<SessionInfo>(State.ToInfo(_services.Options));
        }
        return WriteTouchNowAsync();
    }

    private async Task TryWriteTouchesAsync(bool shuttingDown)
    {
        try
        {
            await _state.WriteStateAsync();
            _unwrittenTouches = false;
        }
        catch (Exception exception) when (shuttingDown)
        {
            // Every live session of the silo tries at once: one warning, not one per session.
            if (_services.IsFirstShutdownWriteFailure())
            {
                SessionLog.TouchesNotWrittenAtShutdown(_services.SessionLogger, exception, State.SessionId);
            }
            else
            {
                SessionLog.MoreTouchesNotWrittenAtShutdown(_services.SessionLogger, State.SessionId);
            }
        }
        catch (Exception exception)
        {
            SessionLog.TouchesNotWritten(_services.SessionLogger, exception, State.SessionId);
        }
    }

    private async ValueTask<SessionInfo> WriteTouchNowAsync()
    {
        try
        {
            await _state.WriteStateAsync();
        }
        catch (Exception exception)
        {
            throw await ConflictAsync(exception);
        }
        return State.ToInfo(_services.Options);
    }

    public ValueTask<SessionInfo> GetAsync()
    {
        ThrowIfInvalidKey();
        var state = State;
        if (!state.Exists)
        {
            return ValueTask.FromException<SessionInfo>(NotFound());
        }
        if (state.IsLive)
        {
            var now = _time.GetUtcNow();
            if (state.IsDueAt(now))
            {
                return new ValueTask<SessionInfo>(ExpireAsync(now));
            }
        }
        return new ValueTask<SessionInfo>(state.ToInfo(_services.Options));
    }

    public Task<SessionInfo> CloseAsync()
    {
        ThrowIfInvalidKey();
        var state = State;
        if (!state.Exists)
        {
            return Task.FromException<SessionInfo>(NotFound());
        }
        if (!state.IsLive)
        {
            return Task.FromResult(state.ToInfo(_services.Options));
        }
        var now = _time.GetUtcNow();
        // Past its deadline the session was no longer active: it expired, whatever the caller meant to do.
        return state.IsDueAt(now) ? ExpireAsync(now) : EndCoreAsync(EndReason.Logout, now);
    }

    public async Task<SessionInfo?> EndAsync(EndReason reason)
    {
        ThrowIfInvalidKey();
        if (!Enum.IsDefined(reason))
        {
            throw new ArgumentException($"Unknown end reason {(int)reason}.", nameof(reason));
        }
        var state = State;
        if (!state.Exists)
        {
            return null;
        }
        if (!state.IsLive)
        {
            return state.ToInfo(_services.Options);
        }
        var now = _time.GetUtcNow();
        if (state.IsDueAt(now))
        {
            return await ExpireAsync(now);
        }
        if (SessionState.IsTimeout(reason))
        {
            // A timeout that has not happened: the caller's view was stale. Fix the index row and stay active.
            await UpsertIndexAsync();
            return state.ToInfo(_services.Options);
        }
        return await EndCoreAsync(reason, now);
    }

    public Task<bool> ExpireIfDueAsync() => WakeCoreAsync(null);

    public Task<bool> WakeAsync(DateTimeOffset indexedDeadline) => WakeCoreAsync(indexedDeadline);

    /// <summary>
    /// The janitor's call, from its sweep (<paramref name="indexedDeadline"/> null: the row may be stale, rewrite it) or
    /// from its queue (rewrite the row only when the deadline the partition holds is behind).
    /// </summary>
    private async Task<bool> WakeCoreAsync(DateTimeOffset? indexedDeadline)
    {
        if (!_validKey)
        {
            return false;
        }
        var state = State;
        if (!state.Exists)
        {
            // A row without a session: its creation failed after the row was written (and perhaps the first data
            // records), or it was forgotten.
            if (await TryClearDataAsync(orphanChunk: 1))
            {
                await _services.DeadlineIndex.RemoveAsync(this.GetPrimaryKeyString(), _partition);
            }
            DeactivateOnIdle();
            return false;
        }
        var now = _time.GetUtcNow();
        if (!state.IsLive)
        {
            // Ended, but the row survived: the end's follow-up was cut short (crash), or the row waits for the end of
            // the data's retention. Finish it; the user grain records an end once however often it hears of it.
            NotifyUser(state.ToInfo(_services.Options));
            if (!await FlushOutboxAsync(state.ToInfo(_services.Options)))
            {
                DeactivateOnIdle();
                return false;
            }
            if (state.Data is { Status: SessionDataStatus.Retained, DeleteAt: { } deleteAt } && now < deleteAt)
            {
                await _services.DeadlineIndex.UpsertAsync(state.SessionId, state.UserId, deleteAt, _partition);
                return false;
            }
            var cleared = state.Data is { Status: SessionDataStatus.Retained } ? await DeleteRetainedDataAsync() : await TryClearDataAsync();
            if (cleared)
            {
                await _services.DeadlineIndex.RemoveAsync(state.SessionId, _partition);
            }
            DeactivateOnIdle();
            return false;
        }
        if (await OnPointAsync(now))
        {
            return true;
        }
        if (State.IsLive && (indexedDeadline is null || State.ExpiresAt - indexedDeadline.Value > IndexPrecision))
        {
            await UpsertIndexAsync();
        }
        return false;
    }

    // The coarsest truncation of a stored deadline among the index providers (microseconds), with margin.
    private static readonly TimeSpan IndexPrecision = TimeSpan.FromMilliseconds(1);

    public async Task ForgetAsync()
    {
        if (!_validKey || !State.Exists)
        {
            DeactivateOnIdle();
            return;
        }
        if (State.IsLive)
        {
            // Only ended sessions leave history; a live one is never forgotten.
            return;
        }
        var sessionId = State.SessionId;
        // The session leaves its user's history: retained data goes with it.
        if (!await TryClearDataAsync())
        {
            return;
        }
        await _state.ClearStateAsync();
        _state.State = new SessionState();
        await _services.DeadlineIndex.RemoveAsync(sessionId, _partition);
        SessionLog.SessionForgotten(_services.SessionLogger, sessionId);
        DeactivateOnIdle();
    }

    private Task<SessionInfo> ExpireAsync(DateTimeOffset now) => EndCoreAsync(State.TimeoutReason(_services.Options), now);

    /// <summary>
    /// The one path by which a session ends (timer, caller, user grain, janitor): store the end, then report it to the
    /// user grain, subscribers, the deadline index, metrics and the log, then leave memory.
    /// </summary>
    private async Task<SessionInfo> EndCoreAsync(EndReason reason, DateTimeOffset now)
    {
        var state = State;
        state.End(reason, now, _services.Options);
        state.RecordEvent(SessionState.EventFor(reason), now);
        try
        {
            await _state.WriteStateAsync();
            _unwrittenTouches = false;
        }
        catch (Exception exception)
        {
            // Storage may or may not hold the end: drop this activation so the next call reads what it holds.
            state.UndoEnd();
            if (exception is InconsistentStateException && await TryAdoptStoredEndAsync())
            {
                // Ended meanwhile by another activation, which stored and reported that end.
                return State.Exists ? State.ToInfo(_services.Options) : throw NotFound();
            }
            throw WriteFailed(exception);
        }

        StopLive();
        var info = state.ToInfo(_services.Options);
        NotifyUser(info);
        var logged = await FlushOutboxAsync(info);
        await PublishAsync(SessionState.EventFor(reason), info, now);
        try
        {
            if (!logged)
            {
                // The end event is in the stored outbox: the row, due now, brings the janitor to append it.
                await _services.DeadlineIndex.UpsertAsync(state.SessionId, state.UserId, now, _partition);
            }
            else if (state.Data is { Status: SessionDataStatus.Retained, DeleteAt: { } deleteAt })
            {
                // The row now waits for the end of the data's retention, when the janitor has the data deleted.
                _attributes = null;
                _messages = null;
                await _services.DeadlineIndex.UpsertAsync(state.SessionId, state.UserId, deleteAt, _partition);
            }
            else if (await TryClearDataAsync())
            {
                await _services.DeadlineIndex.RemoveAsync(state.SessionId, _partition);
            }
        }
        catch (Exception exception)
        {
            // The janitor will find the row, see the session ended and finish (remove it, or clear the data).
            SessionLog.DeadlineIndexWriteFailed(_services.SessionLogger, exception, state.SessionId);
        }
        Report(info, now);
        DeactivateOnIdle();
        return info;
    }

    /// <summary>Metrics and the log line of an end.</summary>
    private void Report(SessionInfo info, DateTimeOffset now)
    {
        var reason = info.EndReason ?? EndReason.IdleTimeout;
        _services.Metrics.SessionEnded(reason);
        if (SessionState.IsTimeout(reason))
        {
            var lag = now - info.ExpiresAt;
            _services.Metrics.ExpiryLag(lag);
            SessionLog.SessionExpired(_services.SessionLogger, info.SessionId, info.UserId, SessionMetrics.ReasonName(reason), info.ExpiresAt, Math.Max(0, lag.TotalMilliseconds));
        }
        else if (reason == EndReason.Evicted)
        {
            SessionLog.SessionEvicted(_services.SessionLogger, info.SessionId, info.UserId);
        }
        else
        {
            SessionLog.SessionClosed(_services.SessionLogger, info.SessionId, info.UserId, SessionMetrics.ReasonName(reason));
        }
    }

    private async Task UpsertIndexAsync()
    {
        var state = State;
        await _services.DeadlineIndex.UpsertAsync(this.GetPrimaryKeyString(), state.UserId, state.ExpiresAt, _partition);
        _indexedDeadline = state.ExpiresAt;
    }

    private async Task TryUpsertIndexAsync(CancellationToken cancellationToken)
    {
        var state = State;
        try
        {
            await _services.DeadlineIndex.UpsertAsync(this.GetPrimaryKeyString(), state.UserId, state.ExpiresAt, _partition, cancellationToken);
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
        _ = GrainFactory.GetGrain<IUserSessionsRecorder>(info.UserId).SessionEndedAsync(info);
    }

    /// <summary>
    /// Publishes an event on the session events stream. A failed publish is counted (sessions.events_failed) and logged,
    /// at most once per <see cref="SessionServices.PublishFailureLogInterval"/> per silo: the end is stored either way.
    /// </summary>
    private async Task PublishAsync(SessionEventType type, SessionInfo info, DateTimeOffset now)
    {
        try
        {
            var events = await _services.EventsAsync();
            await events.OnNextAsync(new SessionEvent { Type = type, Session = info, At = now });
        }
        catch (Exception exception)
        {
            _services.Metrics.EventFailed();
            if (_services.PublishFailureLog.TryLog(out var notLogged))
            {
                SessionLog.EventPublishFailed(_services.SessionLogger, exception, info.SessionId, type.ToString(), notLogged);
            }
        }
    }

    /// <summary>The exception for a caller whose write failed; after an ETag conflict, what storage holds decides it.</summary>
    private async Task<Exception> ConflictAsync(Exception exception)
    {
        if (exception is InconsistentStateException && await TryAdoptStoredEndAsync())
        {
            return EndedOrMissing(State);
        }
        return WriteFailed(exception);
    }

    /// <summary>
    /// After an ETag conflict: reads the stored state. True when it holds an ended session (or none), which this
    /// activation then adopts without reporting it again; false when the read failed or the stored session is live.
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
        ForgetLoadedData();
        await UpgradeLegacyDataAsync();
        if (State.IsLive)
        {
            return false;
        }
        StopLive();
        DeactivateOnIdle();
        var stored = State;
        SessionLog.SessionEndAdopted(_services.SessionLogger, this.GetPrimaryKeyString(), stored.Exists ? stored.Status.ToString() : "missing");
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
        if (!state.Exists)
        {
            return NotFound();
        }
        return state.Status == SessionStatus.Closed
            ? new SessionClosedException($"Session {state.SessionId} was closed.")
            : new SessionExpiredException($"Session {state.SessionId} has expired.");
    }

    private SessionNotFoundException NotFound()
    {
        // Nothing to keep: a read of an unknown id leaves no activation behind.
        DeactivateOnIdle();
        return new($"Session {this.GetPrimaryKeyString()} does not exist.");
    }

    private void ThrowIfInvalidKey()
    {
        if (!_validKey)
        {
            throw new ArgumentException("A session id is 'sess_' followed by a lower-case UUIDv4.", "sessionId");
        }
    }

    private static TimeSpan Until(DateTimeOffset when, DateTimeOffset now) => when > now ? when - now : TimeSpan.Zero;
}
