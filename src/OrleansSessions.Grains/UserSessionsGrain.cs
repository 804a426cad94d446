using Orleans.Runtime;
using Orleans.Storage;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The sessions of one user: live session ids in creation order, the current session, and the bounded history
/// of ended sessions (newest first).
/// </summary>
/// <remarks>
/// <para>
/// This grain calls session grains and waits; session grains call it only one-way
/// (<see cref="SessionEndedAsync"/>), so no cycle can wait on itself. An end may be heard more than once (the
/// session grain's notice, this grain's own reading of a session it called, the janitor's repair of an
/// interrupted end): <see cref="RecordEnded"/> enters a session in history only once.
/// </para>
/// <para>
/// Retention: while a user has no live session, a reminder (<see cref="RetentionReminderName"/>) drops history
/// entries older than Sessions:HistoryRetention, and deletes the stored record once nothing is left, so records of
/// users who stopped coming back do not accumulate. Reads never show entries older than the retention.
/// </para>
/// </remarks>
[GrainType("user-sessions")]
internal sealed class UserSessionsGrain : Grain, IUserSessionsGrain, IUserSessionsRecorder, IRemindable
{
    /// <summary>The reminder that applies Sessions:HistoryRetention to an idle user's record.</summary>
    public const string RetentionReminderName = "history-retention";

    private const int CreateAttempts = 3;
    private const int MergeAttempts = 4;

    private readonly IPersistentState<UserSessionsState> _state;
    private readonly SessionServices _services;
    private readonly TimeProvider _time;
    private readonly bool _validKey;
    private readonly List<string> _toForget = [];

    public UserSessionsGrain(
        [PersistentState(SessionStorage.UserStateName, SessionStorage.Name)] IPersistentState<UserSessionsState> state,
        SessionServices services,
        TimeProvider time)
    {
        _services = services;
        _state = state;
        _time = time;
        _validKey = SessionKeys.IsValidUserId(this.GetPrimaryKeyString());
    }

    private string UserId => this.GetPrimaryKeyString();

    public Task<SessionInfo> CreateSessionAsync() => CreateCoreAsync(null);

    public Task<SessionInfo> CreateSessionAsync(string idempotencyKey)
    {
        if (!SessionKeys.IsValidIdempotencyKey(idempotencyKey))
        {
            throw new ArgumentException(SessionKeys.IdempotencyKeyRule, nameof(idempotencyKey));
        }
        return CreateCoreAsync(idempotencyKey);
    }

    private async Task<SessionInfo> CreateCoreAsync(string? idempotencyKey)
    {
        ThrowIfInvalidKey();
        var options = _services.Options;
        var state = _state.State;
        var since = _time.GetUtcNow() - options.IdempotencyWindow;
        if (idempotencyKey is not null && state.FindCreateKey(idempotencyKey, since) is { } earlier)
        {
            var replayed = await ReplayCreateAsync(earlier);
            if (replayed is not null)
            {
                return replayed;
            }
        }
        if (options.MaxPerUser > 0 && state.ActiveSessionIds.Count >= options.MaxPerUser)
        {
            // The list may hold sessions that ended without our hearing yet; count only the live ones.
            await RefreshActiveAsync();
            if (state.ActiveSessionIds.Count >= options.MaxPerUser && options.OverLimit == OverLimitPolicy.Reject)
            {
                throw new SessionLimitExceededException($"User {UserId} already has {state.ActiveSessionIds.Count} sessions (Sessions:MaxPerUser is {options.MaxPerUser}).");
            }
            while (state.ActiveSessionIds.Count >= options.MaxPerUser)
            {
                var oldest = state.ActiveSessionIds[0];
                var ended = await GrainFactory.GetGrain<ISessionLifecycleGrain>(oldest).EndAsync(EndReason.Evicted);
                if (ended is null || ended.Status == SessionStatus.Active)
                {
                    state.ActiveSessionIds.Remove(oldest);
                }
                else
                {
                    RecordEnded(ended);
                }
            }
        }

        for (var attempt = 1; ; attempt++)
        {
            var sessionId = SessionKeys.NewSessionId();
            // The id is stored in the live list before the session exists, so whatever is killed when, no live session
            // is missing from it (logout-all and the per-user limit see every one); an id whose session never came to
            // be is dropped the next time the list is read.
            var previousCurrent = state.CurrentSessionId;
            state.ActiveSessionIds.Add(sessionId);
            state.CurrentSessionId = sessionId;
            if (idempotencyKey is not null)
            {
                state.RememberCreateKey(idempotencyKey, sessionId, _time.GetUtcNow(), since, SessionOptions.MaxIdempotencyKeysPerUser);
            }
            try
            {
                await PersistAsync();
            }
            catch
            {
                // No session was made under this id: whether or not the write landed, the id names nothing.
                state.ActiveSessionIds.Remove(sessionId);
                state.CurrentSessionId = previousCurrent;
                throw;
            }
            try
            {
                return await GrainFactory.GetGrain<ISessionLifecycleGrain>(sessionId).CreateAsync(UserId);
            }
            catch (SessionAlreadyExistsException) when (attempt < CreateAttempts)
            {
                // A 122-bit random collision: take another id.
                state.ActiveSessionIds.Remove(sessionId);
            }
        }
    }

    /// <summary>
    /// The session an earlier create with the same idempotency key made, in its state now; created under its stored id
    /// when that create was cut off after the id was stored. Null when the session has left this user's record (ended
    /// and forgotten): the key then makes a new session.
    /// </summary>
    private async Task<SessionInfo?> ReplayCreateAsync(string sessionId)
    {
        try
        {
            return await GrainFactory.GetGrain<ISessionGrain>(sessionId).GetAsync();
        }
        catch (SessionNotFoundException)
        {
        }
        var state = _state.State;
        if (!state.ActiveSessionIds.Contains(sessionId))
        {
            return null;
        }
        try
        {
            return await GrainFactory.GetGrain<ISessionLifecycleGrain>(sessionId).CreateAsync(UserId);
        }
        catch (SessionAlreadyExistsException)
        {
            // The cut-off create's write landed after all.
            return await GrainFactory.GetGrain<ISessionGrain>(sessionId).GetAsync();
        }
    }

    public async Task<IReadOnlyList<SessionInfo>> GetActiveSessionsAsync()
    {
        ThrowIfInvalidKey();
        var live = await RefreshActiveAsync();
        DeactivateIfEmpty();
        return live;
    }

    public async Task<SessionInfo?> GetCurrentSessionAsync()
    {
        ThrowIfInvalidKey();
        var currentId = _state.State.CurrentSessionId;
        if (currentId.Length == 0)
        {
            DeactivateIfEmpty();
            return null;
        }
        SessionInfo info;
        try
        {
            info = await GrainFactory.GetGrain<ISessionGrain>(currentId).GetAsync();
        }
        catch (SessionNotFoundException)
        {
            return FindInHistory(currentId);
        }
        if (info.Status != SessionStatus.Active && RecordEnded(info))
        {
            await PersistAsync();
        }
        return info;
    }

    public async Task<IReadOnlyList<SessionInfo>> GetHistoryAsync(int limit)
    {
        ThrowIfInvalidKey();
        if (limit < 0)
        {
            throw new ArgumentException("The history limit must be >= 0.", nameof(limit));
        }
        // Sessions that ended a moment ago may not have reported yet: ask them, so history is exact when read.
        if (_state.State.ActiveSessionIds.Count > 0)
        {
            await RefreshActiveAsync();
        }
        if (DropExpiredHistory())
        {
            await PersistAsync();
        }
        var history = _state.State.History;
        DeactivateIfEmpty();
        return history.GetRange(0, Math.Min(limit, history.Count));
    }

    public async Task<int> CloseAllAsync()
    {
        ThrowIfInvalidKey();
        var state = _state.State;
        var ids = state.ActiveSessionIds.ToArray();
        if (ids.Length == 0)
        {
            DeactivateIfEmpty();
            return 0;
        }
        // Each call is inspected below; the first failure is rethrown after the others are recorded.
        var calls = await BoundedCalls.RunAsync(ids.Length, i => GrainFactory.GetGrain<ISessionLifecycleGrain>(ids[i]).EndAsync(EndReason.LogoutAll), _services.Metrics);

        var closed = 0;
        Exception? failure = null;
        for (var i = 0; i < ids.Length; i++)
        {
            var call = calls[i];
            if (!call.IsCompletedSuccessfully)
            {
                failure ??= call.Exception?.InnerException ?? new TaskCanceledException();
                continue;
            }
            var info = call.Result;
            if (info is null)
            {
                state.ActiveSessionIds.Remove(ids[i]);
                continue;
            }
            if (info.Status == SessionStatus.Active)
            {
                continue;
            }
            if (info.EndReason == EndReason.LogoutAll)
            {
                closed++;
            }
            RecordEnded(info);
        }
        await PersistAsync();
        if (failure is not null)
        {
            throw failure;
        }
        return closed;
    }

    public async Task SessionEndedAsync(SessionInfo session)
    {
        if (!_validKey || session is null || !string.Equals(session.UserId, UserId, StringComparison.Ordinal) || session.Status == SessionStatus.Active)
        {
            return;
        }
        if (RecordEnded(session))
        {
            await PersistAsync();
        }
    }

    /// <summary>Asks every listed session for its state; records the ended ones and drops unknown ones. Returns the live ones, oldest first.</summary>
    private async Task<List<SessionInfo>> RefreshActiveAsync()
    {
        var state = _state.State;
        var ids = state.ActiveSessionIds.ToArray();
        var calls = await BoundedCalls.RunAsync(ids.Length, i => GetOrNullAsync(ids[i]), _services.Metrics);
        var results = new SessionInfo?[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            // A failed read fails the refresh, as it did when all were awaited together.
            results[i] = await calls[i];
        }

        var live = new List<SessionInfo>(ids.Length);
        var changed = false;
        for (var i = 0; i < ids.Length; i++)
        {
            var info = results[i];
            if (info is null)
            {
                changed |= state.ActiveSessionIds.Remove(ids[i]);
            }
            else if (info.Status != SessionStatus.Active)
            {
                if (RecordEnded(info))
                {
                    changed = true;
                    SessionLog.UserSessionReconciled(_services.UserLogger, UserId, info.SessionId);
                }
            }
            else
            {
                live.Add(info);
            }
        }
        if (changed)
        {
            await PersistAsync();
        }
        return live;
    }

    private async Task<SessionInfo?> GetOrNullAsync(string sessionId)
    {
        try
        {
            return await GrainFactory.GetGrain<ISessionGrain>(sessionId).GetAsync();
        }
        catch (SessionNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Moves an ended session from the live list into history, once. Returns true when the state changed.</summary>
    private bool RecordEnded(SessionInfo info) => _state.State.RecordEnded(info, _services.Options.HistoryLimit, _toForget);

    private SessionInfo? FindInHistory(string sessionId) => _state.State.FindInHistory(sessionId);

    /// <summary>
    /// Applies Sessions:HistoryRetention: drops expired history entries; once the user has no live session and no
    /// history, deletes the stored record and the reminder, and deactivates.
    /// </summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!_validKey || !string.Equals(reminderName, RetentionReminderName, StringComparison.Ordinal))
        {
            return;
        }
        var state = _state.State;
        if (state.ActiveSessionIds.Count > 0)
        {
            // Sessions that ended unheard move to history here; live ones stop the retention until they end.
            await RefreshActiveAsync();
        }
        var retention = _services.Options.HistoryRetention;
        if (state.ActiveSessionIds.Count > 0 || retention <= TimeSpan.Zero)
        {
            await StopRetentionAsync();
            await PersistAsync();
            return;
        }

        DropExpiredHistory();
        if (state.History.Count > 0)
        {
            // Wake again when the oldest remaining entry expires.
            var oldestEnd = state.History[^1].EndedAt ?? _time.GetUtcNow();
            var due = oldestEnd + retention - _time.GetUtcNow();
            await this.RegisterOrUpdateReminder(RetentionReminderName, due > TimeSpan.Zero ? due : TimeSpan.Zero, retention);
            await PersistAsync();
            return;
        }

        await StopRetentionAsync();
        state.CurrentSessionId = string.Empty;
        try
        {
            await _state.ClearStateAsync();
        }
        catch (InconsistentStateException)
        {
            // Written meanwhile by another activation: read it; the next tick (or the next end) decides again.
            await _state.ReadStateAsync();
            return;
        }
        ForgetTrimmed();
        SessionLog.UserRecordDeleted(_services.UserLogger, UserId);
        DeactivateOnIdle();
    }

    /// <summary>Writes the state, then lets trimmed sessions forget themselves.</summary>
    private async Task PersistAsync()
    {
        await ArmRetentionAsync();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _state.WriteStateAsync();
                break;
            }
            catch (InconsistentStateException) when (attempt < MergeAttempts)
            {
                // Stored state moved on without this activation (another activation wrote during a membership
                // change): fold it into ours and write again.
                await MergeStoredAsync();
            }
        }

        // Only after history without them is stored: a session must stay readable while history holds it.
        ForgetTrimmed();
    }

    private void ForgetTrimmed()
    {
        if (_toForget.Count == 0)
        {
            return;
        }
        var forget = _toForget.ToArray();
        _toForget.Clear();
        foreach (var sessionId in forget)
        {
            _ = GrainFactory.GetGrain<ISessionLifecycleGrain>(sessionId).ForgetAsync();
        }
    }

    /// <summary>
    /// Registers the retention reminder when the user is left with history and no live session (once: the state
    /// remembers it). Registered before the state that says so is written, so a stored flag always has its reminder.
    /// </summary>
    private async Task ArmRetentionAsync()
    {
        var state = _state.State;
        var retention = _services.Options.HistoryRetention;
        if (retention <= TimeSpan.Zero || state.RetentionReminder || state.ActiveSessionIds.Count > 0 || state.History.Count == 0)
        {
            return;
        }
        var oldestEnd = state.History[^1].EndedAt ?? _time.GetUtcNow();
        var due = oldestEnd + retention - _time.GetUtcNow();
        try
        {
            await this.RegisterOrUpdateReminder(RetentionReminderName, due > TimeSpan.Zero ? due : TimeSpan.Zero, retention);
            state.RetentionReminder = true;
        }
        catch (Exception exception)
        {
            // Recording the end matters more than its retention: the next write of this user tries again.
            SessionLog.RetentionReminderFailed(_services.UserLogger, exception, UserId);
        }
    }

    private async Task StopRetentionAsync()
    {
        var reminder = await this.GetReminder(RetentionReminderName);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
        _state.State.RetentionReminder = false;
    }

    /// <summary>Drops history entries older than Sessions:HistoryRetention. Returns true when the state changed.</summary>
    private bool DropExpiredHistory()
    {
        var retention = _services.Options.HistoryRetention;
        return retention > TimeSpan.Zero && _state.State.DropEndedBefore(_time.GetUtcNow() - retention, _toForget);
    }

    private async Task MergeStoredAsync()
    {
        var mine = _state.State;
        await _state.ReadStateAsync();
        var stored = _state.State;
        mine.MergeFrom(stored, _services.Options.HistoryLimit, _toForget);
        _state.State = mine;
        SessionLog.UserStateMerged(_services.UserLogger, UserId);
    }

    /// <summary>
    /// A user with no live session, no current session and no history holds nothing worth an activation: reads of
    /// users that never existed (or whose record is empty) leave nothing behind instead of pinning memory until the
    /// collection age.
    /// </summary>
    private void DeactivateIfEmpty()
    {
        if (_state.State.IsEmpty && _toForget.Count == 0)
        {
            DeactivateOnIdle();
        }
    }

    private void ThrowIfInvalidKey()
    {
        if (!_validKey)
        {
            DeactivateOnIdle();
            throw new ArgumentException(SessionKeys.UserIdRule, "userId");
        }
    }
}
