using Npgsql;
using Orleans.Serialization;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// The session event log in the <c>orleanssessions_events</c> and <c>orleanssessions_event_heads</c> tables
/// (<see cref="PostgreSqlSchema"/>), scoped by the Orleans ServiceId like grain state: one row per event, keyed by
/// (partition, position) and unique by (session id, sequence number), and one heads row per partition holding its
/// newest and last trimmed positions. The tables must exist (<see cref="PostgreSqlSchema.ApplyAsync"/>, which the silo
/// runs at start).
/// </summary>
/// <remarks>
/// <para>
/// Appends join a group commit of their own (<see cref="PostgreSqlEventLogExecutor"/>): those pending at one moment go
/// as one statement and one transaction, which raises each partition's head by the number of its new events and
/// inserts them at the positions below it, and each call returns after that commit. The heads row stays locked until
/// the commit, so a partition's positions are consecutive and become visible in position order; groups lock heads rows
/// in partition order, and writers of different partitions never wait for each other. An event already recorded
/// answers with its position and takes none.
/// </para>
/// <para>
/// The payload is the <see cref="SessionEvent"/> in Orleans' binary serialization (<see cref="Serializer{T}"/>), as the
/// event travels between silos: compact, cheap on the path of every session end, and tolerant of new members as the
/// type's <c>[Id]</c>s are. What retention and an operator query (session id, sequence, time) are columns of their own.
/// Times keep microseconds (truncated toward earlier instants), so a trim may keep an event less than a microsecond
/// older than its limit, never remove a later one.
/// </para>
/// <para>
/// A trim locks the partition's heads row first, then removes its oldest events up to the first one not before the
/// limit, at most <see cref="TrimBatchSize"/> per transaction (a partition's appends wait for no longer than that), and
/// sets the last position removed. Failures of PostgreSQL (Npgsql's exceptions) surface as
/// <see cref="SessionStorageUnavailableException"/>, for every call of a failed group.
/// </para>
/// </remarks>
public sealed class PostgreSqlSessionEventLog : ISessionEventLog, IAsyncDisposable
{
    /// <summary>The most events one trim transaction removes; a trim runs as many as it needs.</summary>
    public const int TrimBatchSize = 2048;

    // As the state storage's defaults (PostgreSqlGrainStorageOptions).
    private const int MaxGroupSize = 256;
    private const int MaxGroupsInFlight = 2;

    private const string ReadSql = $"""
        SELECT position, payload
          FROM {PostgreSqlSchema.EventsTable}
         WHERE service_id = $1 AND partition = $2 AND position > $3
         ORDER BY position
         LIMIT $4
        """;

    private const string BoundsSql = $"""
        SELECT trimmed_through, head FROM {PostgreSqlSchema.EventHeadsTable} WHERE service_id = $1 AND partition = $2
        """;

    // Held until the commit: appends to the partition wait, and the next statement's snapshot has every event they
    // committed before.
    private const string LockHeadSql = $"""
        SELECT trimmed_through FROM {PostgreSqlSchema.EventHeadsTable} WHERE service_id = $1 AND partition = $2 FOR UPDATE
        """;

    // The oldest events, in position order, up to the first one at or after the limit ($3) and at most $4 of them.
    internal const string TrimSql = $"""
        WITH bounds AS (
            SELECT trimmed_through AS t FROM {PostgreSqlSchema.EventHeadsTable} WHERE service_id = $1 AND partition = $2
        ),
        kept AS (
            SELECT e.position
              FROM {PostgreSqlSchema.EventsTable} e, bounds b
             WHERE e.service_id = $1 AND e.partition = $2 AND e.position > b.t AND e.position <= b.t + $4 AND e.at >= $3
             ORDER BY e.position
             LIMIT 1
        ),
        deleted AS (
            DELETE FROM {PostgreSqlSchema.EventsTable} e
             USING bounds b
             WHERE e.service_id = $1 AND e.partition = $2 AND e.position > b.t
               AND e.position < COALESCE((SELECT position FROM kept), b.t + $4 + 1)
            RETURNING e.position
        ),
        moved AS (
            UPDATE {PostgreSqlSchema.EventHeadsTable} h
               SET trimmed_through = GREATEST(h.trimmed_through, d.last)
              FROM (SELECT max(position) AS last FROM deleted) d
             WHERE h.service_id = $1 AND h.partition = $2 AND d.last IS NOT NULL
        )
        SELECT count(*)::integer FROM deleted
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _serviceId;
    private readonly Serializer<SessionEvent> _serializer;
    private readonly GroupCommitQueue<(string SessionId, long Sequence), AppendOperation> _appends;

    /// <summary>Creates the log over a pooled data source, for one Orleans ServiceId.</summary>
    /// <param name="dataSource">The pool; not disposed by the log.</param>
    /// <param name="serviceId">The Orleans <c>ClusterOptions.ServiceId</c> whose events the log holds.</param>
    /// <param name="serializer">Orleans' serializer of the events (the silo's).</param>
    public PostgreSqlSessionEventLog(NpgsqlDataSource dataSource, string serviceId, Serializer<SessionEvent> serializer)
        : this(dataSource, serviceId, serializer, MaxGroupSize, MaxGroupsInFlight)
    {
    }

    /// <summary>Creates the log with group commit limits of its own (what the tests and measurements vary).</summary>
    /// <param name="dataSource">The pool; not disposed by the log.</param>
    /// <param name="serviceId">The Orleans <c>ClusterOptions.ServiceId</c> whose events the log holds.</param>
    /// <param name="serializer">Orleans' serializer of the events.</param>
    /// <param name="maxGroupSize">The most appends one transaction takes.</param>
    /// <param name="maxGroupsInFlight">The most transactions of appends at once.</param>
    internal PostgreSqlSessionEventLog(NpgsqlDataSource dataSource, string serviceId, Serializer<SessionEvent> serializer, int maxGroupSize, int maxGroupsInFlight)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        ArgumentNullException.ThrowIfNull(serializer);
        _dataSource = dataSource;
        _serviceId = serviceId;
        _serializer = serializer;
        _appends = new(new PostgreSqlEventLogExecutor(dataSource, serviceId).CommitAsync, maxGroupSize, maxGroupsInFlight);
    }

    /// <summary>The ServiceId the rows are scoped by.</summary>
    public string ServiceId => _serviceId;

    /// <summary>Transactions the appends ran in so far: what the tests count.</summary>
    internal long Transactions => _appends.Transactions;

    /// <inheritdoc />
    public async ValueTask<long> AppendAsync(int partition, long sequence, SessionEvent sessionEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionEvent);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        var operation = new AppendOperation(partition, sessionEvent.Session.SessionId, sequence, sessionEvent.At.ToUniversalTime(), _serializer.SerializeToArray(sessionEvent));
        try
        {
            await _appends.RunAsync(operation).ConfigureAwait(false);
        }
        catch (Exception exception) when (PostgreSqlStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
        return operation.Position;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LoggedSessionEvent>> ReadAsync(int partition, long after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            await using var command = _dataSource.CreateCommand(ReadSql);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _serviceId });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
            var result = new List<LoggedSessionEvent>(Math.Min(limit, 1024));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var position = reader.GetInt64(0);
                result.Add(new LoggedSessionEvent(position, _serializer.Deserialize(reader.GetFieldValue<byte[]>(1))
                    ?? throw new InvalidDataException($"The event at position {position} of partition {partition} is empty.")));
            }
            return result;
        }
        catch (Exception exception) when (PostgreSqlStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <inheritdoc />
    public async ValueTask<SessionEventLogBounds> BoundsAsync(int partition, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            await using var command = _dataSource.CreateCommand(BoundsSql);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _serviceId });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? new SessionEventLogBounds(reader.GetInt64(0), reader.GetInt64(1))
                : new SessionEventLogBounds(0, 0);
        }
        catch (Exception exception) when (PostgreSqlStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> TrimAsync(int partition, DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var total = 0;
            int trimmed;
            do
            {
                trimmed = await TrimBatchAsync(partition, before.ToUniversalTime(), cancellationToken).ConfigureAwait(false);
                total += trimmed;
            }
            while (trimmed == TrimBatchSize);
            return total;
        }
        catch (Exception exception) when (PostgreSqlStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <summary>Waits for the appends queued so far, then stops taking new ones.</summary>
    public ValueTask DisposeAsync() => _appends.DisposeAsync();

    private async Task<int> TrimBatchAsync(int partition, DateTimeOffset before, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var batch = PostgreSqlStatements.NewGroupBatch(connection);
            await using (batch.ConfigureAwait(false))
            {
                var @lock = new NpgsqlBatchCommand(LockHeadSql);
                @lock.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _serviceId });
                @lock.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
                batch.BatchCommands.Add(@lock);
                var trim = new NpgsqlBatchCommand(TrimSql);
                trim.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _serviceId });
                trim.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
                trim.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = before });
                trim.Parameters.Add(new NpgsqlParameter<int> { TypedValue = TrimBatchSize });
                batch.BatchCommands.Add(trim);
                // One implicit transaction: the heads row's lock lasts until the commit, which ends the reader.
                int trimmed;
                var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    // The planner settings' row, the heads row (if any), then the count.
                    await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                    await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    trimmed = reader.GetInt32(0);
                    while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
                    {
                    }
                }
                return trimmed;
            }
        }
    }
}
