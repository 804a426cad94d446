using Newtonsoft.Json;
using OrleansSessions.Grains.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The stored state of one session and its lifetime rules. An empty <see cref="SessionId"/> means no session exists.
/// Every rule is a pure function of the state, the options and the time given, so it is tested without a grain.
/// </summary>
/// <remarks>
/// Stored as JSON by Orleans' JSON grain storage serializer (Newtonsoft, every type named, every object given an id)
/// unless the host picks another: the attributes below keep what that writes to the state's own members, without
/// the ids, the names of the types inside it or the derived <see cref="Exists"/> and <see cref="IsLive"/>. States
/// stored with them still load: the reader skips names and ids it is not asked to use.
/// </remarks>
[GenerateSerializer, Alias("OrleansSessions.SessionState")]
[JsonObject(IsReference = false)]
internal sealed class SessionState
{
    [Id(0)]
    public string SessionId { get; set; } = string.Empty;

    [Id(1)]
    public string UserId { get; set; } = string.Empty;

    [Id(2)]
    public DateTimeOffset CreatedAt { get; set; }

    [Id(3)]
    public DateTimeOffset LastActivity { get; set; }

    /// <summary>min(LastActivity + IdleTimeout, CreatedAt + AbsoluteTimeout); only moves later while active (unless the timeouts are shortened).</summary>
    [Id(4)]
    public DateTimeOffset ExpiresAt { get; set; }

    [Id(5)]
    public SessionStatus Status { get; set; }

    [Id(6)]
    public DateTimeOffset? EndedAt { get; set; }

    [Id(7)]
    public EndReason? EndReason { get; set; }

    /// <summary>The labels given at creation; null when none.</summary>
    [Id(8)]
    [JsonProperty(TypeNameHandling = TypeNameHandling.None, IsReference = false)]
    public Dictionary<string, string>? Labels { get; set; }

    /// <summary>This session's own idle timeout; null for Sessions:IdleTimeout.</summary>
    [Id(9)]
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>This session's own absolute timeout; null for Sessions:AbsoluteTimeout.</summary>
    [Id(10)]
    public TimeSpan? AbsoluteTimeout { get; set; }

    /// <summary>The ended session this one continues; null unless created with continueFrom.</summary>
    [Id(11)]
    public string? PreviousSessionId { get; set; }

    /// <summary>Where the session's attributes and conversation are and how big; null while the session has had none.</summary>
    [Id(12)]
    [JsonProperty(TypeNameHandling = TypeNameHandling.None)]
    public SessionDataHeader? Data { get; set; }

    /// <summary>The sequence number of the session's newest event (1, 2, 3...; see <see cref="Storage.ISessionEventLog"/>).</summary>
    [Id(13)]
    public long EventSequence { get; set; }

    /// <summary>
    /// Events stored with the change they report and not yet known to be in the event log: appended after the state
    /// write, again after a crash (the log records each once). Emptied in memory once appended; the next write stores that.
    /// </summary>
    [Id(14)]
    [JsonProperty(TypeNameHandling = TypeNameHandling.None, ItemTypeNameHandling = TypeNameHandling.None, ItemIsReference = false)]
    public List<PendingSessionEvent>? Outbox { get; set; }

    /// <summary>True when a session was created under this key.</summary>
    [JsonIgnore]
    public bool Exists => SessionId.Length != 0;

    /// <summary>True when the session exists and has not ended (its deadline may have passed: see <see cref="IsDueAt"/>).</summary>
    [JsonIgnore]
    public bool IsLive => Status == SessionStatus.Active && SessionId.Length != 0;

    /// <summary>A new live session created at <paramref name="now"/>.</summary>
    public static SessionState Create(string sessionId, string userId, DateTimeOffset now, SessionOptions options, SessionSeed? seed = null)
    {
        var state = new SessionState
        {
            SessionId = sessionId,
            UserId = userId,
            CreatedAt = now,
            LastActivity = now,
            Status = SessionStatus.Active,
            Labels = seed?.Labels,
            IdleTimeout = seed?.IdleTimeout,
            AbsoluteTimeout = seed?.AbsoluteTimeout,
            PreviousSessionId = seed?.PreviousSessionId,
        };
        state.ExpiresAt = state.Deadline(now, options);
        return state;
    }

    /// <summary>This session's idle timeout: its own, or Sessions:IdleTimeout.</summary>
    public TimeSpan IdleTimeoutOf(SessionOptions options) => IdleTimeout ?? options.IdleTimeout;

    /// <summary>This session's absolute timeout: its own, or Sessions:AbsoluteTimeout.</summary>
    public TimeSpan AbsoluteTimeoutOf(SessionOptions options) => AbsoluteTimeout ?? options.AbsoluteTimeout;

    /// <summary>The deadline of this session if last active at <paramref name="lastActivity"/>.</summary>
    public DateTimeOffset Deadline(DateTimeOffset lastActivity, SessionOptions options)
    {
        var idle = lastActivity + IdleTimeoutOf(options);
        var absolute = CreatedAt + AbsoluteTimeoutOf(options);
        return idle <= absolute ? idle : absolute;
    }

    /// <summary>True while the session is live and <paramref name="now"/> is before its deadline: the exact answer of is-active.</summary>
    public bool IsActiveAt(DateTimeOffset now) => IsLive && now < ExpiresAt;

    /// <summary>True when the session is live but its deadline has passed: it must end now, by timeout.</summary>
    public bool IsDueAt(DateTimeOffset now) => IsLive && now >= ExpiresAt;

    /// <summary>Records activity at <paramref name="now"/> (the session must be active at <paramref name="now"/>). Returns the previous deadline.</summary>
    public DateTimeOffset Touch(DateTimeOffset now, SessionOptions options)
    {
        var previous = ExpiresAt;
        LastActivity = now;
        ExpiresAt = Deadline(now, options);
        return previous;
    }

    /// <summary>Which timeout ended a session that reached its deadline: the absolute cap when that is what the deadline was.</summary>
    public EndReason TimeoutReason(SessionOptions options)
        => ExpiresAt >= CreatedAt + AbsoluteTimeoutOf(options) ? Sessions.EndReason.AbsoluteTimeout : Sessions.EndReason.IdleTimeout;

    /// <summary>
    /// Ends the live session with <paramref name="reason"/> at <paramref name="now"/>. A timed-out session stopped being
    /// active at its deadline, however late the end is processed, so that is its end time.
    /// </summary>
    public void End(EndReason reason, DateTimeOffset now, SessionOptions options)
    {
        var isTimeout = IsTimeout(reason);
        Status = isTimeout ? SessionStatus.Expired : SessionStatus.Closed;
        EndedAt = isTimeout ? ExpiresAt : now;
        EndReason = reason;
        // The data ends with the session: deleted now, or retained read-only for Sessions:DataRetention.
        Data ??= new SessionDataHeader();
        Data.End(EndedAt.Value, options);
    }

    /// <summary>Puts the event of a change into the outbox, to be stored with it.</summary>
    public void RecordEvent(SessionEventType type, DateTimeOffset at)
        => (Outbox ??= []).Add(new PendingSessionEvent(++EventSequence, type, at));

    /// <summary>Puts back a live state after an end that could not be stored.</summary>
    public void UndoEnd()
    {
        if (Outbox is { Count: > 0 } outbox && outbox[^1].Sequence == EventSequence)
        {
            outbox.RemoveAt(outbox.Count - 1);
            EventSequence--;
        }
        Status = SessionStatus.Active;
        EndedAt = null;
        EndReason = null;
        if (Data is { } data)
        {
            data.Status = SessionDataStatus.Live;
            data.DeleteAt = null;
        }
    }

    /// <summary>When the expiring warning is due; null when warnings are off.</summary>
    public DateTimeOffset? WarningAt(TimeSpan warningBefore) => warningBefore > TimeSpan.Zero ? ExpiresAt - warningBefore : null;

    /// <summary>The event an end with <paramref name="reason"/> publishes.</summary>
    public static SessionEventType EventFor(EndReason reason)
        => IsTimeout(reason) ? SessionEventType.Expired : reason == Sessions.EndReason.Evicted ? SessionEventType.Evicted : SessionEventType.Closed;

    /// <summary>True for idle_timeout and absolute_timeout.</summary>
    public static bool IsTimeout(EndReason reason) => reason is Sessions.EndReason.IdleTimeout or Sessions.EndReason.AbsoluteTimeout;

    /// <summary>A snapshot for callers; the timeouts are this session's (its own, or those of <paramref name="options"/>).</summary>
    public SessionInfo ToInfo(SessionOptions options) => new()
    {
        Labels = Labels,
        IdleTimeout = IdleTimeoutOf(options),
        AbsoluteTimeout = AbsoluteTimeoutOf(options),
        DataVersion = Data?.Version ?? 0,
        // An ended session reports what its conversation held at the end, whether or not the data is still kept.
        MessageCount = (int)(Data?.HeldCount() ?? 0),
        PreviousSessionId = PreviousSessionId,
        SessionId = SessionId,
        UserId = UserId,
        CreatedAt = CreatedAt,
        LastActivity = LastActivity,
        ExpiresAt = ExpiresAt,
        Status = Status,
        EndedAt = EndedAt,
        EndReason = EndReason,
    };
}

/// <summary>An event in a session's outbox: its sequence number, type and time.</summary>
[GenerateSerializer, Immutable, Alias("OrleansSessions.PendingSessionEvent")]
[JsonObject(IsReference = false)]
internal sealed record PendingSessionEvent(
    [property: Id(0)] long Sequence,
    [property: Id(1)] SessionEventType Type,
    [property: Id(2)] DateTimeOffset At);
