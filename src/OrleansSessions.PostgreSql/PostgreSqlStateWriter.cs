using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// The group commit behind <see cref="PostgreSqlGrainStorage"/>: one loop takes every operation pending at that moment
/// (at most <see cref="MaxGroupSize"/>, at most one per state row), runs them as one batch on one connection (the
/// planner settings, then up to three multi-row statements; one implicit transaction, one commit), and completes each
/// operation only after that commit returned. No timer: an operation that arrives while a slot is free goes at once; operations that arrive while
/// every slot is committing form the next group. Up to <see cref="MaxGroupsInFlight"/> groups commit at once, each on
/// its own connection; a row in a group in flight keeps later operations on it for a later group, in their order, so
/// two groups never lock rows against each other.
/// </summary>
/// <remarks>
/// A row the ETag condition did not match completes its operation with <see cref="StateOperation.Version"/> null (the
/// caller raises Orleans' InconsistentStateException); a failed batch fails every operation of its group with the
/// driver's exception, and the transaction leaves nothing of the group behind.
/// </remarks>
internal sealed class PostgreSqlStateWriter : IAsyncDisposable
{
    // Every statement reaches the table only through one primary-key probe per operation (a LATERAL subquery that
    // OFFSET 0 keeps from being flattened into a join, so the group's arrays are always the outer side) and, for
    // updates and deletes, through the probed row's ctid. Written as plain joins, the statements were planned from the
    // table's statistics, and a plan cached while the table was small (the generic plan of a prepared statement, kept
    // for the connection's life) joined the group by hash against a scan of every row of the ServiceId, or looped over
    // one: each group then cost as much as the whole table (13 ms per group of 16 writes on 46,000 rows, against
    // 1.7 ms; up to 300 ms per group of reads). Sequential and bitmap scans are off for the group's transaction
    // (set_config(..., true)), so even a probe planned on an empty table stays an index scan.
    internal const string PlannerSql = """
        SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)
        """;

    // Each statement reads its group from arrays (ord = index in the group) and returns (ord, version, payload) for the
    // rows it matched.
    internal const string WriteSql = $"""
        WITH input AS (
            SELECT * FROM unnest($2::integer[], $3::text[], $4::text[], $5::bytea[], $6::integer[]) AS t(ord, state_name, grain_id, payload, version)
        ),
        located AS (
            SELECT i.ord, i.payload, i.version, x.tid
              FROM input i
             CROSS JOIN LATERAL (
                SELECT p.ctid AS tid FROM {PostgreSqlSchema.StateTable} p
                 WHERE p.service_id = $1 AND p.state_name = i.state_name AND p.grain_id = i.grain_id AND p.version = i.version
                OFFSET 0) x
             WHERE i.version IS NOT NULL
        ),
        updated AS (
            UPDATE {PostgreSqlSchema.StateTable} s
               SET payload = l.payload, version = s.version + 1, modified_on = now()
              FROM located l
             WHERE s.ctid = l.tid AND s.version = l.version
            RETURNING l.ord, s.version
        ),
        inserted AS (
            INSERT INTO {PostgreSqlSchema.StateTable} (service_id, state_name, grain_id, payload, version, modified_on)
            SELECT $1, i.state_name, i.grain_id, i.payload, 1, now() FROM input i WHERE i.version IS NULL
            ON CONFLICT DO NOTHING
            RETURNING state_name, grain_id, version
        )
        SELECT ord, version, NULL::bytea FROM updated
        UNION ALL
        SELECT i.ord, n.version, NULL::bytea
          FROM inserted n JOIN input i ON i.version IS NULL AND i.state_name = n.state_name AND i.grain_id = n.grain_id
        """;

    internal const string DeleteSql = $"""
        DELETE FROM {PostgreSqlSchema.StateTable} s
         USING (SELECT i.ord, i.version, x.tid
                  FROM unnest($2::integer[], $3::text[], $4::text[], $5::integer[]) AS i(ord, state_name, grain_id, version)
                 CROSS JOIN LATERAL (
                    SELECT p.ctid AS tid FROM {PostgreSqlSchema.StateTable} p
                     WHERE p.service_id = $1 AND p.state_name = i.state_name AND p.grain_id = i.grain_id AND p.version = i.version
                    OFFSET 0) x) l
         WHERE s.ctid = l.tid AND s.version = l.version
        RETURNING l.ord, s.version, NULL::bytea
        """;

    internal const string ReadSql = $"""
        SELECT i.ord, x.version, x.payload
          FROM unnest($2::integer[], $3::text[], $4::text[]) AS i(ord, state_name, grain_id)
         CROSS JOIN LATERAL (
            SELECT p.version, p.payload FROM {PostgreSqlSchema.StateTable} p
             WHERE p.service_id = $1 AND p.state_name = i.state_name AND p.grain_id = i.grain_id
            OFFSET 0) x
        """;

    // The session deadline index (PostgreSqlSessionDeadlineIndex) groups its upserts and removes the same way.
    internal const string UpsertDeadlinesSql = $"""
        INSERT INTO {PostgreSqlSchema.DeadlinesTable} (service_id, session_id, user_id, partition, deadline)
        SELECT $1, d.session_id, d.user_id, d.partition, d.deadline
          FROM unnest($2::text[], $3::text[], $4::integer[], $5::timestamptz[]) AS d(session_id, user_id, partition, deadline)
        ON CONFLICT (service_id, session_id) DO UPDATE
           SET user_id = EXCLUDED.user_id, partition = EXCLUDED.partition, deadline = EXCLUDED.deadline
        """;

    internal const string RemoveDeadlinesSql = $"""
        DELETE FROM {PostgreSqlSchema.DeadlinesTable} d
         USING (SELECT x.tid
                  FROM unnest($2::text[]) AS r(session_id)
                 CROSS JOIN LATERAL (
                    SELECT p.ctid AS tid FROM {PostgreSqlSchema.DeadlinesTable} p
                     WHERE p.service_id = $1 AND p.session_id = r.session_id
                    OFFSET 0) x) l
         WHERE d.ctid = l.tid
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _serviceId;
    private readonly Channel<StateOperation> _pending = Channel.CreateUnbounded<StateOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private long _transactions;
    private int _queued;

    public PostgreSqlStateWriter(NpgsqlDataSource dataSource, string serviceId, int maxGroupSize, int maxGroupsInFlight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxGroupSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxGroupsInFlight, 1);
        _dataSource = dataSource;
        _serviceId = serviceId;
        MaxGroupSize = maxGroupSize;
        MaxGroupsInFlight = maxGroupsInFlight;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>The most operations one group (one transaction) holds.</summary>
    public int MaxGroupSize { get; }

    /// <summary>The most groups committing at once, each on its own connection.</summary>
    public int MaxGroupsInFlight { get; }

    /// <summary>Groups run so far (each one transaction, committed or failed): what the tests count.</summary>
    public long Transactions => Interlocked.Read(ref _transactions);

    /// <summary>Operations queued and not yet taken into a group (deferred ones included).</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Queues <paramref name="operation"/> for the next group; its task completes after that group's commit.</summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed (the silo is stopping).</exception>
    public Task RunAsync(StateOperation operation)
    {
        Interlocked.Increment(ref _queued);
        if (!_pending.Writer.TryWrite(operation))
        {
            Interlocked.Decrement(ref _queued);
            throw new ObjectDisposedException(nameof(PostgreSqlStateWriter));
        }
        return operation.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var reader = _pending.Reader;
        // Rows of the groups in flight; an operation on one of them (or behind a deferred one on the same row) waits in
        // `deferred`, in arrival order, for a later group. So no two groups ever hold the same row.
        var busy = new HashSet<(string StateName, string GrainId)>();
        var deferred = new List<StateOperation>();
        var deferredRows = new Dictionary<(string StateName, string GrainId), int>();
        var inFlight = new List<Task>(MaxGroupsInFlight);
        var open = true;
        while (open || deferred.Count > 0 || inFlight.Count > 0)
        {
            if (inFlight.Count < MaxGroupsInFlight)
            {
                var group = new List<StateOperation>(Math.Min(MaxGroupSize, 64));
                lock (busy)
                {
                    for (var i = 0; i < deferred.Count && group.Count < MaxGroupSize; i++)
                    {
                        var row = Row(deferred[i]);
                        if (!busy.Contains(row))
                        {
                            Add(group, busy, deferred[i]);
                            Release(deferredRows, row);
                            deferred.RemoveAt(i--);
                        }
                    }
                    while (group.Count < MaxGroupSize && reader.TryRead(out var operation))
                    {
                        var row = Row(operation);
                        if (busy.Contains(row) || deferredRows.ContainsKey(row))
                        {
                            deferred.Add(operation);
                            deferredRows[row] = deferredRows.GetValueOrDefault(row) + 1;
                        }
                        else
                        {
                            Add(group, busy, operation);
                        }
                    }
                }
                if (group.Count > 0)
                {
                    Interlocked.Add(ref _queued, -group.Count);
                    inFlight.Add(RunGroupAsync(group, busy));
                    continue;
                }
            }
            // Nothing to start now: wait for a new operation (while a slot is free) or for a group to end.
            var waits = new List<Task>(inFlight);
            if (open && inFlight.Count < MaxGroupsInFlight)
            {
                waits.Add(reader.WaitToReadAsync().AsTask());
            }
            if (waits.Count == 0)
            {
                break;
            }
            var done = await Task.WhenAny(waits).ConfigureAwait(false);
            if (done is Task<bool> { Result: false })
            {
                open = false;
            }
            inFlight.RemoveAll(t => t.IsCompleted);
        }

        static (string, string) Row(StateOperation operation) => (operation.StateName, operation.GrainId);

        static void Add(List<StateOperation> group, HashSet<(string, string)> busy, StateOperation operation)
        {
            operation.Ord = group.Count;
            group.Add(operation);
            busy.Add(Row(operation));
        }

        static void Release(Dictionary<(string, string), int> deferredRows, (string, string) row)
        {
            if (deferredRows[row] == 1)
            {
                deferredRows.Remove(row);
            }
            else
            {
                deferredRows[row]--;
            }
        }
    }

    private async Task RunGroupAsync(List<StateOperation> group, HashSet<(string StateName, string GrainId)> busy)
    {
        await ExecuteAsync(group).ConfigureAwait(false);
        lock (busy)
        {
            foreach (var operation in group)
            {
                busy.Remove((operation.StateName, operation.GrainId));
            }
        }
    }

    private async Task ExecuteAsync(List<StateOperation> group)
    {
        try
        {
            var connection = await _dataSource.OpenConnectionAsync().ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                var batch = connection.CreateBatch();
                await using (batch.ConfigureAwait(false))
                {
                    batch.BatchCommands.Add(new NpgsqlBatchCommand(PlannerSql));
                    AddStatement(batch, group, StateOperationKind.Write, WriteSql);
                    AddStatement(batch, group, StateOperationKind.Delete, DeleteSql);
                    AddStatement(batch, group, StateOperationKind.Read, ReadSql);
                    AddDeadlineStatements(batch, group);
                    // At most six statement texts in all: each is parsed once per physical connection.
                    await batch.PrepareAsync().ConfigureAwait(false);
                    Interlocked.Increment(ref _transactions);
                    // Several statements without a transaction of their own: one implicit transaction, committed at the
                    // end of the batch; the reader ends only after the server reported that commit.
                    var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        // The planner settings' row first; then the rows of the statements (at least one follows).
                        await reader.NextResultAsync().ConfigureAwait(false);
                        do
                        {
                            while (await reader.ReadAsync().ConfigureAwait(false))
                            {
                                var operation = group[reader.GetInt32(0)];
                                operation.Version = reader.GetInt32(1);
                                operation.StoredPayload = reader.IsDBNull(2) ? null : reader.GetFieldValue<byte[]>(2);
                            }
                        }
                        while (await reader.NextResultAsync().ConfigureAwait(false));
                    }
                }
            }
        }
        catch (Exception exception)
        {
            foreach (var operation in group)
            {
                operation.Version = null;
                operation.StoredPayload = null;
                operation.TrySetException(exception);
            }
            return;
        }
        foreach (var operation in group)
        {
            operation.TrySetResult();
        }
    }

    private void AddDeadlineStatements(NpgsqlBatch batch, List<StateOperation> group)
    {
        List<DeadlineOperation>? upserts = null;
        List<string>? removes = null;
        foreach (var operation in group)
        {
            if (operation is DeadlineOperation { Kind: StateOperationKind.DeadlineUpsert } upsert)
            {
                (upserts ??= []).Add(upsert);
            }
            else if (operation.Kind == StateOperationKind.DeadlineRemove)
            {
                (removes ??= []).Add(operation.GrainId);
            }
        }
        if (upserts is not null)
        {
            var command = new NpgsqlBatchCommand(UpsertDeadlinesSql);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _serviceId });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = upserts.Select(u => u.GrainId).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = upserts.Select(u => u.UserId).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = upserts.Select(u => u.Partition).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = upserts.Select(u => u.Deadline).ToArray() });
            batch.BatchCommands.Add(command);
        }
        if (removes is not null)
        {
            var command = new NpgsqlBatchCommand(RemoveDeadlinesSql);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _serviceId });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = removes.ToArray() });
            batch.BatchCommands.Add(command);
        }
    }

    private void AddStatement(NpgsqlBatch batch, List<StateOperation> group, StateOperationKind kind, string sql)
    {
        var count = 0;
        foreach (var operation in group)
        {
            if (operation.Kind == kind)
            {
                count++;
            }
        }
        if (count == 0)
        {
            return;
        }
        var ords = new int[count];
        var stateNames = new string[count];
        var grainIds = new string[count];
        var payloads = kind == StateOperationKind.Write ? new byte[]?[count] : null;
        var versions = kind != StateOperationKind.Read ? new int?[count] : null;
        var k = 0;
        foreach (var operation in group)
        {
            if (operation.Kind != kind)
            {
                continue;
            }
            ords[k] = operation.Ord;
            stateNames[k] = operation.StateName;
            grainIds[k] = operation.GrainId;
            if (payloads is not null)
            {
                payloads[k] = operation.Payload;
            }
            if (versions is not null)
            {
                versions[k] = operation.ExpectedVersion;
            }
            k++;
        }
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _serviceId });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = ords });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = stateNames });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = grainIds });
        if (payloads is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<byte[]?[]> { TypedValue = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        }
        if (versions is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<int?[]> { TypedValue = versions });
        }
        batch.BatchCommands.Add(command);
    }
}

internal enum StateOperationKind
{
    Read,
    Write,
    Delete,
    DeadlineUpsert,
    DeadlineRemove,
}

/// <summary>
/// An upsert or remove of one row of the session deadline index: <see cref="StateOperation.GrainId"/> holds the
/// session id, <see cref="StateOperation.StateName"/> the table's name (so the row key never meets a state row's).
/// Completed after its group's commit, with no <see cref="StateOperation.Version"/>.
/// </summary>
internal sealed class DeadlineOperation(StateOperationKind kind, string sessionId, string userId, int partition, DateTimeOffset deadline)
    : StateOperation(kind, PostgreSqlSchema.DeadlinesTable, sessionId, null, null)
{
    public string UserId { get; } = userId;

    public int Partition { get; } = partition;

    /// <summary>UTC.</summary>
    public DateTimeOffset Deadline { get; } = deadline;
}

/// <summary>
/// One read, write or delete of a state row, completed by <see cref="PostgreSqlStateWriter"/> after its group's commit:
/// <see cref="Version"/> is the row's version after the operation (read: as stored) when the row matched, null when
/// it did not (no row, or the ETag condition failed).
/// </summary>
internal class StateOperation(StateOperationKind kind, string stateName, string grainId, byte[]? payload, int? expectedVersion)
    : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
{
    public StateOperationKind Kind { get; } = kind;

    public string StateName { get; } = stateName;

    public string GrainId { get; } = grainId;

    /// <summary>What a write stores.</summary>
    public byte[]? Payload { get; } = payload;

    /// <summary>The version a write or delete expects (the caller's ETag); null for a write: insert only if no row exists.</summary>
    public int? ExpectedVersion { get; } = expectedVersion;

    /// <summary>The index in the group (the statements' ord column).</summary>
    internal int Ord { get; set; }

    public int? Version { get; set; }

    /// <summary>What a read found.</summary>
    public byte[]? StoredPayload { get; set; }
}
