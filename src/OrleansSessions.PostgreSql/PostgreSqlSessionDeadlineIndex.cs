using Npgsql;
using OrleansSessions.Grains.Storage;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// The session deadline index in the <c>orleanssessions_deadlines</c> table (<see cref="PostgreSqlSchema"/>), scoped by
/// the Orleans ServiceId like grain state: one row per live session, read by the janitor one partition at a time.
/// Upserts and removes join a group commit of their own (<see cref="PostgreSqlDeadlineExecutor"/>, queued as
/// <see cref="PostgreSqlGrainStorage"/>'s operations are): those
/// pending at one moment go as one transaction, and each call returns after that commit. A read is one statement on a
/// pooled connection. The table must exist (<see cref="PostgreSqlSchema.ApplyAsync"/>, which the silo runs at start).
/// </summary>
/// <remarks>
/// Deadlines are stored with microsecond precision, truncated toward earlier times, so a stored deadline stays a lower
/// bound of the session's real deadline as <see cref="ISessionDeadlineIndex"/> requires. Failures of PostgreSQL
/// (Npgsql's exceptions) surface as <see cref="OrleansSessions.Sessions.SessionStorageUnavailableException"/>, for every
/// call of a failed group; nothing is retried here.
/// </remarks>
public sealed class PostgreSqlSessionDeadlineIndex : ISessionDeadlineIndex, IAsyncDisposable
{
    // As the state storage's defaults (PostgreSqlGrainStorageOptions).
    private const int MaxGroupSize = 256;
    private const int MaxGroupsInFlight = 2;

    private const string ReadDueSql = $"""
        SELECT session_id, user_id, deadline
          FROM {PostgreSqlSchema.DeadlinesTable}
         WHERE service_id = $1 AND partition = $2 AND deadline <= $3
         ORDER BY deadline, session_id
         LIMIT $4
        """;

    private const string ReadRangeSql = $"""
        SELECT session_id, user_id, deadline
          FROM {PostgreSqlSchema.DeadlinesTable}
         WHERE service_id = $1 AND partition = $2 AND deadline <= $3 AND deadline >= $5
         ORDER BY deadline, session_id
         LIMIT $4
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _serviceId;
    private readonly GroupCommitQueue<string, DeadlineOperation> _writes;

    /// <summary>Creates the index over a pooled data source, for one Orleans ServiceId.</summary>
    /// <param name="dataSource">The pool; not disposed by the index.</param>
    /// <param name="serviceId">The Orleans <c>ClusterOptions.ServiceId</c> whose sessions the index holds.</param>
    public PostgreSqlSessionDeadlineIndex(NpgsqlDataSource dataSource, string serviceId)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        _dataSource = dataSource;
        _serviceId = serviceId;
        _writes = new(new PostgreSqlDeadlineExecutor(dataSource, serviceId).CommitAsync, MaxGroupSize, MaxGroupsInFlight);
    }

    /// <summary>The ServiceId the rows are scoped by.</summary>
    public string ServiceId => _serviceId;

    /// <summary>Transactions the upserts and removes ran in so far: what the tests count.</summary>
    internal long Transactions => _writes.Transactions;

    /// <inheritdoc />
    public async ValueTask UpsertAsync(string sessionId, string userId, DateTimeOffset deadline, int partition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        await WriteAsync(new DeadlineOperation(remove: false, sessionId, userId, partition, deadline.ToUniversalTime())).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask RemoveAsync(string sessionId, int partition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        cancellationToken.ThrowIfCancellationRequested();
        await WriteAsync(new DeadlineOperation(remove: true, sessionId, string.Empty, partition, default)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadDueAsync(int partition, DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            return await ReadCoreAsync(partition, null, now, limit, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (PostgreSqlStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadRangeAsync(int partition, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        if (from > to)
        {
            return [];
        }
        try
        {
            return await ReadCoreAsync(partition, from, to, limit, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (PostgreSqlStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <summary>Waits for the upserts and removes queued so far, then stops taking new ones.</summary>
    public ValueTask DisposeAsync() => _writes.DisposeAsync();

    private async Task<IReadOnlyList<SessionDeadlineEntry>> ReadCoreAsync(int partition, DateTimeOffset? from, DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(from is null ? ReadDueSql : ReadRangeSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _serviceId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        if (from is { } start)
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = start.ToUniversalTime() });
        }
        var result = new List<SessionDeadlineEntry>(Math.Min(limit, 1024));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new SessionDeadlineEntry(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }
        return result;
    }

    private async Task WriteAsync(DeadlineOperation operation)
    {
        try
        {
            await _writes.RunAsync(operation).ConfigureAwait(false);
        }
        catch (Exception exception) when (PostgreSqlStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }
}
