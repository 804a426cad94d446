namespace OrleansSessions.Grains.Options;

/// <summary>Session lifetime and per-user policy, bound from the "Sessions" configuration section.</summary>
public sealed class SessionOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Sessions";

    /// <summary>Sessions:IdleTimeout: a session ends after this long without a touch.</summary>
    /// <value>Default 30 minutes; must be &gt; 0 and at most <see cref="SessionOptionsValidator.MaxTimerDuration"/> (about 49.7 days).</value>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Sessions:AbsoluteTimeout: a session ends this long after its creation, however active.</summary>
    /// <value>Default 8 hours; must be &gt; 0 and at most <see cref="SessionOptionsValidator.MaxTimerDuration"/> (about 49.7 days).</value>
    public TimeSpan AbsoluteTimeout { get; set; } = TimeSpan.FromHours(8);

    /// <summary>
    /// Sessions:WarningBefore: an "expiring" event is published this long before the deadline. When it is not shorter
    /// than the remaining lifetime the warning is published at once.
    /// </summary>
    /// <value>Default 2 minutes; zero disables the warning.</value>
    public TimeSpan WarningBefore { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Sessions:MaxPerUser: the most live sessions one user may have.</summary>
    /// <value>Default 0, unlimited.</value>
    public int MaxPerUser { get; set; }

    /// <summary>Sessions:OverLimit: what happens when MaxPerUser is reached.</summary>
    /// <value>Default <see cref="OverLimitPolicy.EvictOldest"/>.</value>
    public OverLimitPolicy OverLimit { get; set; } = OverLimitPolicy.EvictOldest;

    /// <summary>Sessions:HistoryLimit: how many ended sessions each user keeps (newest first).</summary>
    /// <value>Default 100; must be &gt;= 1.</value>
    public int HistoryLimit { get; set; } = 100;

    /// <summary>
    /// Sessions:HistoryRetention: how long an ended session stays in its user's history. A user with no live session
    /// and nothing left in history has its stored record deleted, so the records of users who stopped coming back
    /// do not accumulate (with the in-memory storage they are held in the silo's memory).
    /// </summary>
    /// <value>Default 30 days; zero keeps history until trimmed by <see cref="HistoryLimit"/>; otherwise at least 1 minute and at most <see cref="SessionOptionsValidator.MaxTimerDuration"/> (about 49.7 days).</value>
    public TimeSpan HistoryRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Sessions:PersistTouches: whether a touch writes the session's state before it is acknowledged. False makes a
    /// touch update the activation only; the state is then written by the session's next create, end or
    /// deactivation (graceful shutdown included). Only for grain storage that lives no longer than the silo
    /// (Orleans' memory storage on one silo), where a per-touch write survives nothing the activation would not: with
    /// durable storage, a crash would lose the touches since the last write.
    /// </summary>
    /// <value>Default true.</value>
    public bool PersistTouches { get; set; } = true;

    /// <summary>
    /// Sessions:IdempotencyWindow: how long a create's idempotency key (HTTP <c>Idempotency-Key</c>,
    /// <see cref="Sessions.IUserSessionsGrain.CreateSessionAsync(string)"/>) returns the session it created. Each user
    /// remembers its newest <see cref="MaxIdempotencyKeysPerUser"/> keys within the window.
    /// </summary>
    /// <value>Default 24 hours; must be &gt; 0 and at most 30 days.</value>
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How many create keys each user remembers at most (the newest), so that its record stays small.</summary>
    public const int MaxIdempotencyKeysPerUser = 100;

    /// <summary>Sessions:MaxAttributesBytes: the most a session's attributes may take, serialized as one JSON object (UTF-8).</summary>
    /// <value>Default 16384; must be &gt;= 256.</value>
    public int MaxAttributesBytes { get; set; } = 16384;

    /// <summary>Sessions:ConversationLimit: the most messages a session's conversation holds; past it the oldest are dropped.</summary>
    /// <value>Default 200; must be from 2 (a chat turn) to 10,000.</value>
    public int ConversationLimit { get; set; } = 200;

    /// <summary>
    /// Sessions:MaxConversationBytes: the most a conversation's messages may take (UTF-8 bytes of role, content and
    /// metadata); past it the oldest are dropped. A single message larger than this is refused.
    /// </summary>
    /// <value>Default 262144; must be &gt;= 1024.</value>
    public int MaxConversationBytes { get; set; } = 262144;

    /// <summary>Sessions:MaxIdleTimeout: the longest idle timeout a create may ask for.</summary>
    /// <value>Default null: <see cref="IdleTimeout"/> (a session may only shorten it); at most about 49.7 days.</value>
    public TimeSpan? MaxIdleTimeout { get; set; }

    /// <summary>Sessions:MaxAbsoluteTimeout: the longest absolute timeout a create may ask for.</summary>
    /// <value>Default null: <see cref="AbsoluteTimeout"/>; at most about 49.7 days.</value>
    public TimeSpan? MaxAbsoluteTimeout { get; set; }

    /// <summary>
    /// Sessions:DataRetention: how long a session's attributes and conversation stay readable (read-only) after it
    /// ended; then they are deleted. Never longer than the session stays in its user's history.
    /// </summary>
    /// <value>Default 0: deleted as part of the end.</value>
    public TimeSpan DataRetention { get; set; }

    /// <summary>
    /// Sessions:DormantAfter: a live session with no call for this long gives up its activation, its timer and the
    /// memory of its data (it goes dormant). It stays live: any call reactivates it from storage and answers exactly as
    /// before, and its janitor partition keeps its warning point and deadline meanwhile. A session whose warning has
    /// been published stays activated until its deadline.
    /// </summary>
    /// <value>Default 2 minutes; zero: never (a live session keeps its activation until its deadline).</value>
    public TimeSpan DormantAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Sessions:ContinueMessages: how many of the newest messages a continued session starts with.</summary>
    /// <value>Default 20; must be &gt;= 0 (a continued conversation holds at most <see cref="ConversationLimit"/> of them).</value>
    public int ContinueMessages { get; set; } = 20;

    /// <summary>The longest idle timeout a session may have.</summary>
    public TimeSpan IdleTimeoutCeiling => MaxIdleTimeout ?? IdleTimeout;

    /// <summary>The longest absolute timeout a session may have.</summary>
    public TimeSpan AbsoluteTimeoutCeiling => MaxAbsoluteTimeout ?? AbsoluteTimeout;
}
