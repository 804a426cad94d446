using Orleans.Concurrency;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The session grain's internal interface: what the user grain and the janitor call, and no client can (it is not in
/// the Abstractions a caller references).
/// </summary>
[Alias("OrleansSessions.ISessionLifecycleGrain")]
internal interface ISessionLifecycleGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the session for <paramref name="userId"/> with what <paramref name="seed"/> holds (checked by the caller).
    /// Throws <see cref="SessionAlreadyExistsException"/> if the id is taken.
    /// </summary>
    [Alias("Create")]
    Task<SessionInfo> CreateAsync(string userId, SessionSeed? seed = null);

    /// <summary>
    /// The labels, attributes and last <paramref name="messages"/> messages of this ended session, for a new session of
    /// <paramref name="userId"/> that continues it.
    /// </summary>
    /// <exception cref="SessionNotFoundException">No such session.</exception>
    /// <exception cref="ContinuationNotAllowedException">Another user's session, or a live one.</exception>
    /// <exception cref="SessionDataDeletedException">Its data is gone.</exception>
    [Alias("GetContinuation")]
    Task<SessionContinuation> GetContinuationAsync(string userId, int messages);

    /// <summary>Ends the session with <paramref name="reason"/> if it is still active; returns its final state, or null for an unknown id.</summary>
    [Alias("End")]
    Task<SessionInfo?> EndAsync(EndReason reason);

    /// <summary>
    /// Ends the session with its timeout reason if its deadline has passed; returns true only when this call ended it.
    /// Otherwise it refreshes its entry in the deadline index. False for an unknown id.
    /// </summary>
    [Alias("ExpireIfDue")]
    Task<bool> ExpireIfDueAsync();

    /// <summary>
    /// The janitor partition's wake at a due point: as <see cref="ExpireIfDueAsync"/> (ends the session when due, else
    /// publishes its warning when its point has come and keeps its timer), but rewrites the deadline index only when
    /// <paramref name="indexedDeadline"/>, the deadline the partition holds, is behind the session's.
    /// </summary>
    [Alias("Wake")]
    Task<bool> WakeAsync(DateTimeOffset indexedDeadline);

    /// <summary>Drops the stored record of an ended session (its user's history no longer holds it).</summary>
    [OneWay, Alias("Forget")]
    Task ForgetAsync();
}

/// <summary>The user grain's internal interface: how a session reports its end.</summary>
[Alias("OrleansSessions.IUserSessionsRecorder")]
internal interface IUserSessionsRecorder : IGrainWithStringKey
{
    /// <summary>Records the end of one of the user's sessions. Idempotent.</summary>
    [OneWay, Alias("SessionEnded")]
    Task SessionEndedAsync(SessionInfo session);
}

/// <summary>The user grain's internal interface for the janitor: the user's history retention, driven by the deadline index.</summary>
[Alias("OrleansSessions.IUserRetentionGrain")]
internal interface IUserRetentionGrain : IGrainWithStringKey
{
    /// <summary>
    /// Applies Sessions:HistoryRetention now: drops expired history entries, then rewrites the user's row in the deadline
    /// index at the next entry's expiry, or removes it (and the user's record, when nothing is left). A user with live
    /// sessions loses the row until the last of them ends; a user with no record only loses the row. Returns true when
    /// the row is gone. Idempotent. Called by the janitor partition that holds the user's row when the row is due; a
    /// failure leaves the row due for its next sweep.
    /// </summary>
    [Alias("ApplyRetention")]
    Task<bool> ApplyRetentionAsync();
}

/// <summary>The janitor partition's internal interface for its sessions.</summary>
[Alias("OrleansSessions.IJanitorQueueGrain")]
internal interface IJanitorQueueGrain : IGrainWithStringKey
{
    /// <summary>
    /// Tells the partition the next due point of a session that is giving up its activation (dormancy): the partition
    /// queues it when the point falls inside its loaded window (later points come with a later window). The point is
    /// the warning point when it is before <paramref name="deadline"/>, else the deadline.
    /// </summary>
    [AlwaysInterleave, Alias("Schedule")]
    Task ScheduleAsync(string sessionId, DateTimeOffset point, DateTimeOffset deadline);
}
