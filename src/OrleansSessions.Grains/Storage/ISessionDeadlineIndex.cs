namespace OrleansSessions.Grains.Storage;

/// <summary>
/// A durable index of live sessions by deadline, partitioned for the janitor grains. It is how the janitor
/// finds sessions whose deadline passed while no activation held them (idle-collected, silo crashed).
/// </summary>
/// <remarks>
/// <para>
/// Contract kept by the session grain (the only writer; calls for one session are never concurrent):
/// the row of a live session holds a deadline that is no later than the session's real deadline
/// (<c>expiresAt</c> in its grain state). The real deadline only moves later while the session lives
/// (touches slide it), so a row written with the deadline of the moment stays a safe lower bound without
/// being rewritten on every touch. The janitor therefore may find rows that are too early: it asks the
/// session grain, which re-checks its own timestamps and either ends the session or upserts its real deadline.
/// It can never miss a session whose real deadline passed, because that session's row is due as well.
/// </para>
/// <para>
/// Writes by the session grain: upsert at creation (before its state is first written, so a stored live
/// session always has a row), upsert when its expiry timer fires and finds the deadline moved later, when the
/// janitor finds a stale row, and when an activation of a live session is deactivated; remove when the
/// session ends (after its end is stored) or is forgotten. A removed row is never written again for the same id.
/// </para>
/// <para>
/// The index also holds one row per user whose history waits for Sessions:HistoryRetention, keyed
/// <see cref="DeadlineKeys.History"/>(userId) (no session id can take that form). Its only writer is that user's grain:
/// it upserts the row before it stores a state that needs it, at the oldest history entry's expiry (or earlier), and
/// removes it after it stored a state that no longer does (or deleted the record). The janitor hands a due row of
/// that kind to the user grain (<c>IUserRetentionGrain.ApplyRetentionAsync</c>), which moves or removes it.
/// </para>
/// <para>
/// Partitioning: <see cref="SessionDeadlinePartitioner.GetPartition"/> = StableHash(sessionId) % Janitor:Partitions.
/// Every silo computes the same partition; a provider stores it with the row (reads are by partition).
/// </para>
/// <para>
/// A relational provider can follow this shape: a table (session_id text primary key, user_id text not null,
/// partition int not null, deadline timestamptz not null) with an index on (partition, deadline, session_id);
/// upsert is INSERT .. ON CONFLICT (session_id) DO UPDATE, remove is DELETE by session_id, and
/// read-due is SELECT .. WHERE partition = @p AND deadline &lt;= @now ORDER BY deadline, session_id LIMIT @limit.
/// Implementations must be safe for concurrent use by many grains.
/// </para>
/// </remarks>
public interface ISessionDeadlineIndex
{
    /// <summary>Inserts or replaces the row of <paramref name="sessionId"/>.</summary>
    /// <param name="sessionId">The session id (the key).</param>
    /// <param name="userId">The owning user.</param>
    /// <param name="deadline">The session's deadline at the time of the call.</param>
    /// <param name="partition">The janitor partition, from <see cref="SessionDeadlinePartitioner.GetPartition"/>.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask UpsertAsync(string sessionId, string userId, DateTimeOffset deadline, int partition, CancellationToken cancellationToken = default);

    /// <summary>Deletes the row of <paramref name="sessionId"/>; no error when there is none.</summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="partition">The partition the row was written with (providers keyed by session id alone may ignore it).</param>
    /// <param name="cancellationToken">Cancels the delete.</param>
    ValueTask RemoveAsync(string sessionId, int partition, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns up to <paramref name="limit"/> rows of <paramref name="partition"/> whose deadline is at or before
    /// <paramref name="now"/>, ordered by deadline, then session id. Reading removes nothing.
    /// </summary>
    ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadDueAsync(int partition, DateTimeOffset now, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns up to <paramref name="limit"/> rows of <paramref name="partition"/> whose deadline is from
    /// <paramref name="from"/> to <paramref name="to"/> (both included), ordered by deadline, then session id: how a
    /// janitor partition loads the window of its queue. A provider that stores deadlines truncated returns them
    /// truncated and compares them truncated, as <see cref="ReadDueAsync"/> does. Reading removes nothing.
    /// </summary>
    ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadRangeAsync(int partition, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken = default);
}
