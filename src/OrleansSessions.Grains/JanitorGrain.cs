using System.Globalization;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Invocation;
using OrleansSessions.Reminders;
using OrleansSessions.Serialization;
using OrleansSessions.Sessions;
using OrleansSessions.Storage;

namespace OrleansSessions.Grains;

/// <summary>
/// Sweeps one partition of the deadline index. The stored states of the due rows are read in one batch; sessions
/// stored live and long past their deadline (Janitor:BulkAfter) are orphans: no activation holds them, so the
/// janitor ends them itself, in bulk (compare-and-swap writes of session and user state, then event, metrics, log
/// and row removal, the order a session grain keeps). Every other row asks its session to expire itself
/// (<see cref="ISessionGrain.ExpireIfDueAsync"/>), which decides from its own timestamps, so a stale row costs one
/// call and a session raced by its own timer still ends once.
/// </summary>
internal sealed class JanitorGrain : Grain, IJanitorGrain, IRemindable
{
    /// <summary>The name of the partition's reminder.</summary>
    public const string ReminderName = "janitor";

    // Must match the state names of SessionGrain and UserSessionsGrain.
    private const string SessionStateName = SessionGrain.StateName;
    private const string UserStateName = UserSessionsGrain.StateName;

    private const int UserWriteAttempts = 4;

    private static readonly int SessionInterfaceId = GrainInterfaceRegistry.GetInterfaceId<ISessionGrain>();
    private static readonly int UserInterfaceId = GrainInterfaceRegistry.GetInterfaceId<IUserSessionsGrain>();

    private readonly SessionServices _services;
    private readonly IGrainStorage _storage;
    private readonly int _partition;

    public JanitorGrain(SessionServices services, IGrainStorage storage)
    {
        _services = services;
        _storage = storage;
        var key = GetPrimaryKeyString();
        _partition = int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            && partition < services.Janitor.Partitions
            && string.Equals(partition.ToString(CultureInfo.InvariantCulture), key, StringComparison.Ordinal)
                ? partition
                : -1;
    }

    public async Task EnsureStartedAsync()
    {
        ThrowIfInvalidKey();
        var period = _services.Janitor.Period;
        var existing = await GetReminder(ReminderName);
        if (existing is not null && existing.Period == period)
        {
            // Re-registering would push the next sweep a full period away on every silo start.
            return;
        }
        await RegisterOrUpdateReminder(ReminderName, period, period);
        SessionLog.JanitorStarted(_services.JanitorLogger, _partition, period);
    }

    public Task<int> RunNowAsync()
    {
        ThrowIfInvalidKey();
        return SweepAsync();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (_partition < 0 || !string.Equals(reminderName, ReminderName, StringComparison.Ordinal))
        {
            return;
        }
        await SweepAsync();
    }

    private async Task<int> SweepAsync()
    {
        var index = _services.DeadlineIndex;
        var batchSize = _services.Janitor.BatchSize;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var expired = 0;
        while (true)
        {
            var now = TimeProvider.GetUtcNow();
            var batch = await index.ReadDueAsync(_partition, now, batchSize);
            var due = new List<SessionDeadlineEntry>(batch.Count);
            foreach (var entry in batch)
            {
                // A row that survives its session's answer (the call failed) is left for the next sweep.
                if (seen.Add(entry.SessionId))
                {
                    due.Add(entry);
                }
            }
            if (due.Count == 0)
            {
                break;
            }
            expired += await SweepBatchAsync(due, now);
            if (batch.Count < batchSize)
            {
                break;
            }
        }
        _services.Metrics.JanitorExpired(expired);
        SessionLog.JanitorSwept(_services.JanitorLogger, _partition, expired);
        return expired;
    }

    /// <summary>
    /// Ends in bulk the sessions stored live and at least Janitor:BulkAfter past their deadline; asks the grain of
    /// every other row (see <see cref="JanitorOptions.BulkAfter"/>). Returns how many sessions this batch ended.
    /// </summary>
    private async Task<int> SweepBatchAsync(List<SessionDeadlineEntry> due, DateTimeOffset now)
    {
        var reads = new Task<GrainStateRecord?>[due.Count];
        for (var i = 0; i < due.Count; i++)
        {
            reads[i] = TryReadAsync(SessionStateName, new GrainId(SessionInterfaceId, due[i].SessionId));
        }
        await Task.WhenAll(reads);

        var viaGrain = new List<string>();
        var ends = new List<(SessionState Ended, string ETag)>();
        var bulkAfter = _services.Janitor.BulkAfter;
        var absolute = _services.Options.AbsoluteTimeout;
        for (var i = 0; i < due.Count; i++)
        {
            var record = reads[i].Result;
            var state = record?.Data is { } data ? TryDecode<SessionState>(data) : null;
            if (record?.ETag is not { } etag || state is null || state.Status != SessionStatus.Active || state.SessionId.Length == 0
                || now - state.ExpiresAt < bulkAfter)
            {
                viaGrain.Add(due[i].SessionId);
                continue;
            }
            SessionGrain.MarkTimedOut(state, absolute);
            ends.Add((state, etag));
        }

        var expired = 0;
        if (ends.Count > 0)
        {
            var writes = new Task<string?>[ends.Count];
            for (var i = 0; i < ends.Count; i++)
            {
                var (ended, etag) = ends[i];
                writes[i] = TryWriteAsync(SessionStateName, new GrainId(SessionInterfaceId, ended.SessionId), CodecRegistry.Serialize(ended), etag);
            }
            await Task.WhenAll(writes);

            var stored = new List<SessionInfo>(ends.Count);
            for (var i = 0; i < ends.Count; i++)
            {
                if (writes[i].Result is null)
                {
                    // Written meanwhile (a touch that was in flight, an activation's own end): let the grain decide.
                    viaGrain.Add(ends[i].Ended.SessionId);
                }
                else
                {
                    stored.Add(SessionGrain.ToInfo(ends[i].Ended));
                }
            }
            await RecordInUsersAsync(stored);
            Report(stored, now);
            await RemoveRowsAsync(stored);
            expired += stored.Count;
        }

        if (viaGrain.Count > 0)
        {
            var calls = new Task<bool>[viaGrain.Count];
            for (var i = 0; i < viaGrain.Count; i++)
            {
                calls[i] = ExpireAsync(viaGrain[i]);
            }
            foreach (var ended in await Task.WhenAll(calls))
            {
                if (ended)
                {
                    expired++;
                }
            }
        }
        return expired;
    }

    /// <summary>
    /// Moves the ended sessions into their users' history with batched reads and compare-and-swap writes, reading again
    /// when a write lost its ETag check; a user whose writes keep losing (a live activation busy writing) or whose read
    /// failed hears of its sessions through its grain instead (idempotent, like every end notice).
    /// </summary>
    private async Task RecordInUsersAsync(List<SessionInfo> ended)
    {
        var byUser = new Dictionary<string, List<SessionInfo>>(StringComparer.Ordinal);
        foreach (var info in ended)
        {
            if (!byUser.TryGetValue(info.UserId, out var list))
            {
                byUser[info.UserId] = list = [];
            }
            list.Add(info);
        }
        var historyLimit = _services.Options.HistoryLimit;
        var trimmed = new List<string>();
        var users = byUser.Keys.ToArray();
        // Sweeps of other partitions may be recording ends of the same user: a lost ETag check reads again.
        for (var attempt = 1; users.Length > 0; attempt++)
        {
            var reads = new Task<GrainStateRecord?>[users.Length];
            for (var i = 0; i < users.Length; i++)
            {
                reads[i] = TryReadAsync(UserStateName, new GrainId(UserInterfaceId, users[i]));
            }
            await Task.WhenAll(reads);

            var writes = new Task<string?>[users.Length];
            var trimmedHere = new List<string>[users.Length];
            for (var i = 0; i < users.Length; i++)
            {
                trimmedHere[i] = [];
                var record = reads[i].Result;
                var state = record is null ? null : record.Data is { } data ? TryDecode<UserSessionsState>(data) : new UserSessionsState();
                if (record is null || state is null)
                {
                    writes[i] = Task.FromResult<string?>(null);
                    continue;
                }
                var changed = false;
                foreach (var info in byUser[users[i]])
                {
                    changed |= state.RecordEnded(info, historyLimit, trimmedHere[i]);
                }
                writes[i] = changed
                    ? TryWriteAsync(UserStateName, new GrainId(UserInterfaceId, users[i]), CodecRegistry.Serialize(state), record.ETag)
                    : Task.FromResult<string?>(string.Empty);
            }
            await Task.WhenAll(writes);

            var lost = new List<string>();
            for (var i = 0; i < users.Length; i++)
            {
                if (writes[i].Result is not null)
                {
                    trimmed.AddRange(trimmedHere[i]);
                }
                else if (reads[i].Result is not null && attempt < UserWriteAttempts)
                {
                    lost.Add(users[i]);
                }
                else
                {
                    var user = GrainFactory.GetGrain<IUserSessionsGrain>(users[i]);
                    foreach (var info in byUser[users[i]])
                    {
                        _ = user.SessionEndedAsync(info);
                    }
                }
            }
            users = [.. lost];
        }
        foreach (var sessionId in trimmed)
        {
            // Only after history without them is stored, as the user grain does.
            _ = GrainFactory.GetGrain<ISessionGrain>(sessionId).ForgetAsync();
        }
    }

    private void Report(List<SessionInfo> ended, DateTimeOffset now)
    {
        foreach (var info in ended)
        {
            GrainContext.Events.Publish(SessionTopics.Events, new SessionEvent { Type = SessionEventType.Expired, Session = info, At = now });
            SessionGrain.ReportTimedOut(_services, info, now);
        }
    }

    private async Task RemoveRowsAsync(List<SessionInfo> ended)
    {
        var index = _services.DeadlineIndex;
        var removes = new Task[ended.Count];
        for (var i = 0; i < ended.Count; i++)
        {
            removes[i] = index.RemoveAsync(ended[i].SessionId, _partition).AsTask();
        }
        try
        {
            await Task.WhenAll(removes);
        }
        catch (Exception exception)
        {
            // A row left behind is found by the next sweep: its session is ended, so the grain removes it.
            SessionLog.DeadlineIndexWriteFailed(_services.JanitorLogger, exception, "(bulk)");
        }
    }

    /// <summary>A stored state, or null when it cannot be decoded (its grain reports that, not the sweep).</summary>
    private static T? TryDecode<T>(byte[] data) where T : class
    {
        try
        {
            return CodecRegistry.Deserialize<T>(data);
        }
        catch (SerializationException)
        {
            return null;
        }
    }

    /// <summary>Reads one record; null when the read failed (that row is left for the grain path).</summary>
    private async Task<GrainStateRecord?> TryReadAsync(string stateName, GrainId grainId)
    {
        try
        {
            return await _storage.ReadAsync(stateName, grainId, CancellationToken.None);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            SessionLog.JanitorSessionFailed(_services.JanitorLogger, exception, _partition, grainId.Key);
            return null;
        }
    }

    /// <summary>Writes one record if its ETag still matches; null on a conflict or a failed write.</summary>
    private async Task<string?> TryWriteAsync(string stateName, GrainId grainId, byte[] data, string? etag)
    {
        try
        {
            return await _storage.WriteAsync(stateName, grainId, data, etag, CancellationToken.None);
        }
        catch (InconsistentStateException)
        {
            return null;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            SessionLog.JanitorSessionFailed(_services.JanitorLogger, exception, _partition, grainId.Key);
            return null;
        }
    }

    private async Task<bool> ExpireAsync(string sessionId)
    {
        try
        {
            return await GrainFactory.GetGrain<ISessionGrain>(sessionId).ExpireIfDueAsync();
        }
        catch (Exception exception)
        {
            SessionLog.JanitorSessionFailed(_services.JanitorLogger, exception, _partition, sessionId);
            return false;
        }
    }

    private void ThrowIfInvalidKey()
    {
        if (_partition < 0)
        {
            DeactivateOnIdle();
            throw new ArgumentException($"A janitor key is a partition number from 0 to {_services.Janitor.Partitions - 1} (Janitor:Partitions).", "partition");
        }
    }
}
