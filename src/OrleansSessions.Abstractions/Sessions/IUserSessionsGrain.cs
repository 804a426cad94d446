namespace OrleansSessions.Sessions;

/// <summary>The sessions of one user (key: user id, see <see cref="SessionKeys.IsValidUserId"/>).</summary>
[Alias("OrleansSessions.IUserSessionsGrain")]
public interface IUserSessionsGrain : IGrainWithStringKey
{
    /// <summary>Creates a session under the Sessions:MaxPerUser policy.</summary>
    /// <exception cref="SessionLimitExceededException">The user is at the limit and Sessions:OverLimit is Reject.</exception>
    [Alias("CreateSession")]
    Task<SessionInfo> CreateSessionAsync();

    /// <summary>
    /// Creates a session under the Sessions:MaxPerUser policy, once per <paramref name="idempotencyKey"/>: a call with
    /// a key this user used within Sessions:IdempotencyWindow returns that call's session (in its state now) and
    /// creates nothing, however often it is retried, also after a failure or a silo's crash cut the first call off.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="idempotencyKey"/> breaks <see cref="SessionKeys.IdempotencyKeyRule"/>.</exception>
    /// <exception cref="SessionLimitExceededException">The user is at the limit and Sessions:OverLimit is Reject.</exception>
    [Alias("CreateSessionIdempotent")]
    Task<SessionInfo> CreateSessionAsync(string idempotencyKey);

    /// <summary>
    /// Creates a session with labels, initial attributes, its own timeouts or the continuation of an ended session
    /// (<see cref="SessionCreateRequest"/>), under the Sessions:MaxPerUser policy; once per
    /// <paramref name="idempotencyKey"/> when one is given. A refused request creates nothing.
    /// </summary>
    /// <exception cref="InvalidSessionDataException">Malformed labels, attributes or timeouts.</exception>
    /// <exception cref="SessionDataTooLargeException">The attributes exceed Sessions:MaxAttributesBytes.</exception>
    /// <exception cref="ContinuationNotAllowedException">continueFrom names another user's session or a live one.</exception>
    /// <exception cref="SessionDataDeletedException">continueFrom names a session whose data is gone.</exception>
    /// <exception cref="SessionNotFoundException">continueFrom names no session.</exception>
    /// <exception cref="SessionLimitExceededException">The user is at the limit and Sessions:OverLimit is Reject.</exception>
    [Alias("CreateSessionWith")]
    Task<SessionInfo> CreateSessionAsync(SessionCreateRequest request, string? idempotencyKey = null);

    /// <summary>
    /// The user's oldest live sessions, oldest first: the first page of up to <see cref="SessionPage.MaxLimit"/> (all of
    /// them for a user with at most that many). Use <see cref="GetActiveSessionsPageAsync"/> to read past it.
    /// </summary>
    [Alias("GetActiveSessions")]
    Task<IReadOnlyList<SessionInfo>> GetActiveSessionsAsync();

    /// <summary>
    /// Up to <paramref name="limit"/> of the user's live sessions, oldest first, created after the session
    /// <paramref name="after"/> (null: from the oldest); only the sessions of this page are asked for their state.
    /// The page's <see cref="SessionPage.Next"/> continues it. A cursor whose session ended meanwhile still works while
    /// the user grain remembers it.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="limit"/> is not from 1 to <see cref="SessionPage.MaxLimit"/>
    /// (parameter "limit"), or <paramref name="after"/> is not a session of this user the grain knows (parameter "after").</exception>
    [Alias("GetActiveSessionsPage")]
    Task<SessionPage> GetActiveSessionsPageAsync(int limit, string? after);

    /// <summary>The most recently created session, even if it has ended; null if the user never had one.</summary>
    [Alias("GetCurrentSession")]
    Task<SessionInfo?> GetCurrentSessionAsync();

    /// <summary>Ended sessions, newest first, at most <paramref name="limit"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="limit"/> is negative.</exception>
    [Alias("GetHistory")]
    Task<IReadOnlyList<SessionInfo>> GetHistoryAsync(int limit);

    /// <summary>
    /// Ends every live session with reason logout_all, at most 64 calls in flight at once so the silo keeps serving
    /// others; returns, when all have ended, how many this call ended.
    /// </summary>
    [Alias("CloseAll")]
    Task<int> CloseAllAsync();
}
