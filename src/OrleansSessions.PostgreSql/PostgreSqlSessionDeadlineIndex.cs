using Npgsql;
using OrleansSessions.Grains.Storage;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// The session deadline index in the session_deadlines table, scoped by cluster id. Upserts and removes are
/// group-committed: all changes that arrive while a round trip is in flight go to PostgreSQL as one statement over
/// arrays, in submission order per session, and each caller's task completes when its change is committed.
/// </summary>
/// <remarks>
/// Deadlines are stored with microsecond precision, truncated toward earlier times, so a stored deadline stays a
/// lower bound of the session's real deadline as <see cref="ISessionDeadlineIndex"/> requires. Cancellation is
/// honoured until a change is queued. Connection failures surface as <see cref="NpgsqlException"/>.
/// </remarks>
public sealed class PostgreSqlSessionDeadlineIndex : ISessionDeadlineIndex
{
    // A session id appears at most once per batch (the queue defers a second change to the next batch), so the
    // delete and the upsert never touch the same row and ON CONFLICT never sees a row twice.
    private const string ApplyBatchSql = """
        WITH input AS (
            SELECT * FROM unnest($2::text[], $3::text[], $4::integer[], $5::timestamptz[], $6::boolean[])
                AS t(session_id, user_id, partition, deadline, remove)
        ),
        deleted AS (
            DELETE FROM session_deadlines AS d
             USING input AS i
             WHERE i.remove AND d.cluster_id = $1 AND d.session_id = i.session_id
        )
        INSERT INTO session_deadlines (cluster_id, session_id, user_id, partition, deadline)
        SELECT $1, session_id, user_id, partition, deadline FROM input WHERE NOT remove
        ON CONFLICT (cluster_id, session_id) DO UPDATE
           SET user_id = EXCLUDED.user_id, partition = EXCLUDED.partition, deadline = EXCLUDED.deadline
        """;

    private const string ReadDueSql = """
        SELECT session_id, user_id, deadline
          FROM session_deadlines
         WHERE cluster_id = $1 AND partition = $2 AND deadline <= $3
         ORDER BY deadline, session_id
         LIMIT $4
        """;

    private readonly PostgreSqlDatabase _database;
    private readonly string _clusterId;
    private readonly GroupCommitQueue<string, Change, bool> _changes;

    /// <summary>Creates the index over a shared pool, for the cluster named in the database options.</summary>
    public PostgreSqlSessionDeadlineIndex(PostgreSqlDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _clusterId = database.Options.ClusterId;
        _changes = new GroupCommitQueue<string, Change, bool>(FlushAsync, database.Options.MaxWriteBatchSize, database.Options.MaxConcurrentFlushes);
    }

    /// <inheritdoc />
    public ValueTask UpsertAsync(string sessionId, string userId, DateTimeOffset deadline, int partition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        return EnqueueAsync(sessionId, new Change(userId, deadline.ToUniversalTime(), partition, Remove: false), cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask RemoveAsync(string sessionId, int partition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        cancellationToken.ThrowIfCancellationRequested();
        return EnqueueAsync(sessionId, new Change("", default, partition, Remove: true), cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadDueAsync(int partition, DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(ReadDueSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        var result = new List<SessionDeadlineEntry>(Math.Min(limit, 1024));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new SessionDeadlineEntry(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }
        return result;
    }

    private ValueTask EnqueueAsync(string sessionId, Change change, CancellationToken cancellationToken)
    {
        // Queued at once, in the caller's order, even before the schema is ready: waiting for the schema first would
        // let two changes of one session race into the queue. The flush waits for the schema instead.
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask(_changes.EnqueueAsync(sessionId, change));
    }

    private async Task FlushAsync(IReadOnlyList<GroupCommitQueue<string, Change, bool>.Operation> batch)
    {
        await _database.EnsureSchemaAsync().ConfigureAwait(false);
        var count = batch.Count;
        var sessionIds = new string[count];
        var userIds = new string[count];
        var partitions = new int[count];
        var deadlines = new DateTimeOffset[count];
        var removes = new bool[count];
        for (var i = 0; i < count; i++)
        {
            var operation = batch[i];
            sessionIds[i] = operation.Key;
            userIds[i] = operation.Item.UserId;
            partitions[i] = operation.Item.Partition;
            deadlines[i] = operation.Item.Deadline;
            removes[i] = operation.Item.Remove;
        }

        await using var command = _database.DataSource.CreateCommand(ApplyBatchSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = sessionIds });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = userIds });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = partitions });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = deadlines });
        command.Parameters.Add(new NpgsqlParameter<bool[]> { TypedValue = removes });
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);

        for (var i = 0; i < count; i++)
        {
            batch[i].TrySetResult(true);
        }
    }

    private readonly record struct Change(string UserId, DateTimeOffset Deadline, int Partition, bool Remove);
}
