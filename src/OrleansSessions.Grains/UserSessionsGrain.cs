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
/// Storage: the header (this grain's state, <see cref="UserSessionsState"/>) holds the history, the keys, the newest
/// live ids (the tail) and the numbers of sealed pages (<see cref="UserSessionsPage"/>) holding the older ones, each its
/// own record in the same grain storage. A create writes the header (and, once per <see cref="LiveSessionList.TailLimit"/>
/// creates, seals the tail into a page first); an end writes the header, then the one page holding the id. Every write
/// is bounded, whatever the user's count. The grain keeps where each live id is in memory (<see cref="LiveSessionList"/>),
/// loaded with the pages when it activates.
/// </para>
/// <para>
/// Retention: while a user has no live session and some history, its row in the deadline index
/// (<see cref="Storage.DeadlineKeys.History"/>, in the janitor partition of that key) is due when the oldest entry
/// leaves by Sessions:HistoryRetention. The janitor sweeping it calls <see cref="ApplyRetentionAsync"/>, which drops
/// expired entries and moves the row to the next expiry, or deletes the stored record (then the row) once nothing is
/// left, so records of users who stopped coming back do not accumulate; no reminder or timer per user. The row is
/// written before the state that needs it (<see cref="UserSessionsState.RetentionDue"/>), and removed after the state
/// that no longer counts on it. Reads never show entries older than the retention, whenever the janitor comes.
/// </para>
/// <para>
/// Earlier versions kept one Orleans reminder per user instead (<see cref="RetentionReminderName"/>, flagged by
/// <see cref="UserSessionsState.RetentionReminder"/>): at activation, or when such a reminder ticks, the grain writes the
/// row and unregisters the reminder. The grain stays <see cref="IRemindable"/> only to hear those ticks; once no stored
/// record carries the flag, it can go.
/// </para>
/// </remarks>
[GrainType("user-sessions")]
internal sealed partial class UserSessionsGrain : Grain, IUserSessionsGrain, IUserSessionsRecorder, IUserRetentionGrain, IRemindable
{
    /// <summary>
    /// The name of the per-user reminder with which earlier versions applied Sessions:HistoryRetention; this version
    /// only unregisters it.
    /// </summary>
    public const string RetentionReminderName = "history-retention";

    private const int CreateAttempts = 3;
    private const int MergeAttempts = 4;

    // Long loops of one turn (recording thousands of ends, sending their forgets) give the thread back this often.
    private const int YieldEvery = 1_024;

    private readonly IPersistentState<UserSessionsState> _state;
    private readonly SessionServices _services;
    private readonly TimeProvider _time;
    private readonly bool _validKey;
    private readonly List<string> _toForget = [];
    private readonly LiveSessionList _live = new();
    private readonly Dictionary<int, PageSlot> _pages = [];

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

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (_validKey)
        {
            await LoadLiveAsync();
            // A record of an earlier version may still have its per-user reminder.
            await MigrateRetentionReminderAsync();
        }
    }

    public Task<SessionInfo> CreateSessionAsync() => CreateCoreAsync(null, null);

    public Task<SessionInfo> CreateSessionAsync(string idempotencyKey)
    {
        if (!SessionKeys.IsValidIdempotencyKey(idempotencyKey))
        {
            throw new ArgumentException(SessionKeys.IdempotencyKeyRule, nameof(idempotencyKey));
        }
        return CreateCoreAsync(idempotencyKey, null);
    }

    public Task<SessionInfo> CreateSessionAsync(SessionCreateRequest request, string? idempotencyKey = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (idempotencyKey is not null && !SessionKeys.IsValidIdempotencyKey(idempotencyKey))
        {
            throw new ArgumentException(SessionKeys.IdempotencyKeyRule, nameof(idempotencyKey));
        }
        SessionDataRules.CheckCreate(request, _services.Options);
        return CreateCoreAsync(idempotencyKey, request);
    }

    private async Task<SessionInfo> CreateCoreAsync(string? idempotencyKey, SessionCreateRequest? request)
    {
        ThrowIfInvalidKey();
        var options = _services.Options;
        var state = _state.State;
        var since = _time.GetUtcNow() - options.IdempotencyWindow;

        if (idempotencyKey is not null && state.FindCreateKey(idempotencyKey, since) is { } earlier)
        {
            var replayed = await ReplayCreateAsync(earlier, () => SeedAsync(request));
            if (replayed is not null)
            {
                return replayed;
            }
        }
        // A continuation is read before anything is written: a refused one creates nothing.
        var seed = await SeedAsync(request);
        if (options.MaxPerUser > 0 && _live.Count >= options.MaxPerUser)
        {
            // The list may hold sessions that ended without our hearing yet; count only the live ones.
            await RefreshAsync(_live.All());
            if (_live.Count >= options.MaxPerUser && options.OverLimit == OverLimitPolicy.Reject)
            {
                throw new SessionLimitExceededException($"User {UserId} already has {_live.Count} sessions (Sessions:MaxPerUser is {options.MaxPerUser}).");
            }
            while (_live.Count >= options.MaxPerUser && _live.Oldest is { } oldest)
            {
                var ended = await GrainFactory.GetGrain<ISessionLifecycleGrain>(oldest).EndAsync(EndReason.Evicted);
                if (ended is null || ended.Status == SessionStatus.Active)
                {
                    DropLive(oldest);
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
            await SealTailAsync();
            var previousCurrent = state.CurrentSessionId;
            state.ActiveSessionIds.Add(sessionId);
            _live.Add(sessionId, LiveSessionList.Tail);
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
                DropLive(sessionId);
                state.CurrentSessionId = previousCurrent;
                throw;
            }
            try
            {
                return await GrainFactory.GetGrain<ISessionLifecycleGrain>(sessionId).CreateAsync(UserId, seed);
            }
            catch (SessionAlreadyExistsException) when (attempt < CreateAttempts)
            {
                // A 122-bit random collision: take another id.
                DropLive(sessionId);
            }
        }
    }

    /// <summary>
    /// The session an earlier create with the same idempotency key made, in its state now; created under its stored id
    /// when that create was cut off after the id was stored. Null when the session has left this user's record (ended
    /// and forgotten): the key then makes a new session.
    /// </summary>
    private async Task<SessionInfo?> ReplayCreateAsync(string sessionId, Func<Task<SessionSeed?>> seed)
    {
        try
        {
            return await GrainFactory.GetGrain<ISessionGrain>(sessionId).GetAsync();
        }
        catch (SessionNotFoundException)
        {
        }
        if (!_live.Contains(sessionId))
        {
            return null;
        }
        try
        {
            return await GrainFactory.GetGrain<ISessionLifecycleGrain>(sessionId).CreateAsync(UserId, await seed());
        }
        catch (SessionAlreadyExistsException)
        {
            // The cut-off create's write landed after all.
            return await GrainFactory.GetGrain<ISessionGrain>(sessionId).GetAsync();
        }
    }

    /// <summary>
    /// What a session created with <paramref name="request"/> starts with: its details, and with continueFrom the
    /// continued session's labels, attributes and last Sessions:ContinueMessages messages (the request's own labels and
    /// attributes override theirs). Null for a plain create.
    /// </summary>
    private async Task<SessionSeed?> SeedAsync(SessionCreateRequest? request)
    {
        if (request is null)
        {
            return null;
        }
        var labels = request.Labels is { Count: > 0 } ? new Dictionary<string, string>(request.Labels, StringComparer.Ordinal) : null;
        var attributes = request.Attributes is { Count: > 0 } ? new Dictionary<string, string>(request.Attributes, StringComparer.Ordinal) : null;
        List<SessionMessage>? messages = null;
        if (request.ContinueFrom is { } continueFrom)
        {
            var continued = await GrainFactory.GetGrain<ISessionLifecycleGrain>(continueFrom).GetContinuationAsync(UserId, _services.Options.ContinueMessages);
            labels = Merge(continued.Labels, labels);
            attributes = Merge(continued.Attributes, attributes);
            if (labels is { Count: > SessionKeys.MaxLabels })
            {
                throw new InvalidSessionDataException(InvalidSessionDataException.InvalidLabels,
                    $"The continued session's labels and the new ones are more than {SessionKeys.MaxLabels}.");
            }
            if (attributes is not null)
            {
                SessionDataRules.CheckAttributesSize(SessionDataRules.AttributesBytes(attributes), _services.Options);
            }
            messages = continued.Messages;
        }
        return new SessionSeed
        {
            Labels = labels,
            Attributes = attributes,
            IdleTimeout = request.IdleTimeout,
            AbsoluteTimeout = request.AbsoluteTimeout,
            PreviousSessionId = request.ContinueFrom,
            Messages = messages,
        };

        static Dictionary<string, string>? Merge(Dictionary<string, string>? earlier, Dictionary<string, string>? overrides)
        {
            if (earlier is not { Count: > 0 })
            {
                return overrides;
            }
            var merged = new Dictionary<string, string>(earlier, StringComparer.Ordinal);
            foreach (var (key, value) in overrides ?? [])
            {
                merged[key] = value;
            }
            return merged;
        }
    }

    public async Task<IReadOnlyList<SessionInfo>> GetActiveSessionsAsync() => (await GetActiveSessionsPageAsync(SessionPage.MaxLimit, null)).Sessions;

    public async Task<SessionPage> GetActiveSessionsPageAsync(int limit, string? after)
    {
        ThrowIfInvalidKey();
        if (limit < 1 || limit > SessionPage.MaxLimit)
        {
            throw new ArgumentException($"The page limit must be from 1 to {SessionPage.MaxLimit} (got {limit}).", nameof(limit));
        }
        var from = -1L;
        if (after is not null && !_live.TryFindCursor(after, out from))
        {
            throw new ArgumentException($"'{after}' is not a live session of user {UserId} (or ended too long ago to continue after it); read again from the first page.", nameof(after));
        }
        var live = new List<SessionInfo>(Math.Min(limit, _live.Count));
        while (live.Count < limit)
        {
            // Sessions that turn out ended leave the list; the next ones fill their places.
            var batch = _live.After(from, limit - live.Count);
            if (batch.Count == 0)
            {
                break;
            }
            from = batch[^1].Ordinal;
            var ids = new List<string>(batch.Count);
            foreach (var (_, sessionId) in batch)
            {
                ids.Add(sessionId);
            }
            live.AddRange(await RefreshAsync(ids));
        }
        var next = live.Count > 0 && _live.After(from, 1).Count > 0 ? live[^1].SessionId : null;
        var page = new SessionPage(live, _live.Count, next);
        DeactivateIfEmpty();
        return page;
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
        // Sessions that ended a moment ago may not have reported yet: ask them (the oldest page of them, so a read stays
        // bounded), so history is exact when read.
        if (_live.Count > 0)
        {
            await RefreshAsync(_live.After(-1, SessionPage.MaxLimit).ConvertAll(entry => entry.SessionId));
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
        var ids = _live.All();
        if (ids.Count == 0)
        {
            DeactivateIfEmpty();
            return 0;
        }
        // Each call is inspected below; the first failure is rethrown after the others are recorded.
        var calls = await BoundedCalls.RunAsync(ids.Count, i => GrainFactory.GetGrain<ISessionLifecycleGrain>(ids[i]).EndAsync(EndReason.LogoutAll), _services.Metrics);

        var closed = 0;
        Exception? failure = null;
        for (var i = 0; i < ids.Count; i++)
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
                DropLive(ids[i]);
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
            if (i % YieldEvery == YieldEvery - 1)
            {
                await Task.Yield();
            }
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

    /// <summary>Asks the listed sessions for their state; records the ended ones and drops unknown ones. Returns the live ones, in the given order.</summary>
    private async Task<List<SessionInfo>> RefreshAsync(List<string> ids)
    {
        var calls = await BoundedCalls.RunAsync(ids.Count, i => GetOrNullAsync(ids[i]), _services.Metrics);
        var live = new List<SessionInfo>(ids.Count);
        var changed = false;
        for (var i = 0; i < ids.Count; i++)
        {
            // A failed read fails the refresh, as it did when all were awaited together.
            var info = await calls[i];
            if (info is null)
            {
                changed |= DropLive(ids[i]);
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
    private bool RecordEnded(SessionInfo info)
    {
        var dropped = DropLive(info.SessionId);
        return _state.State.RecordEnded(info, _services.Options.HistoryLimit, _toForget, wasLive: dropped) | dropped;
    }

    private SessionInfo? FindInHistory(string sessionId) => _state.State.FindInHistory(sessionId);

    /// <summary>Writes the state, then lets trimmed sessions forget themselves.</summary>
    private async Task PersistAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            // Before every attempt: a merged state may need the row where the first did not.
            await WriteRetentionRowAsync();
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
        // After the header: an id a page loses is in history (or known gone) in the stored header first.
        await WritePagesAsync();

        // Only after history without them is stored: a session must stay readable while history holds it.
        await ForgetTrimmedAsync();
    }

    private async Task ForgetTrimmedAsync()
    {
        if (_toForget.Count == 0)
        {
            return;
        }
        var forget = _toForget.ToArray();
        _toForget.Clear();
        for (var i = 0; i < forget.Length; i++)
        {
            _ = GrainFactory.GetGrain<ISessionLifecycleGrain>(forget[i]).ForgetAsync();
            if (i % YieldEvery == YieldEvery - 1)
            {
                // A close-all of thousands trims as many: let the silo's other work in between the sends.
                await Task.Yield();
            }
        }
    }

    private async Task MergeStoredAsync()
    {
        var mine = _state.State;
        await _state.ReadStateAsync();
        var stored = _state.State;
        mine.MergeFrom(stored, _services.Options.HistoryLimit, _toForget);
        _state.State = mine;
        // Fold the merged live ids into the index: tail ids this activation sealed stay in their page; pages it never
        // saw are read; ids now in history leave.
        mine.ActiveSessionIds.RemoveAll(id => _live.PageOf(id) is >= 0);
        foreach (var id in mine.ActiveSessionIds)
        {
            _live.Add(id, LiveSessionList.Tail);
        }
        foreach (var page in mine.Pages.ToArray())
        {
            if (!_pages.ContainsKey(page))
            {
                await LoadPageAsync(page);
            }
        }
        foreach (var entry in mine.History)
        {
            DropLive(entry.SessionId);
        }
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
