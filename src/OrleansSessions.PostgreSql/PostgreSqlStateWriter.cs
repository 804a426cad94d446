using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// The group commit behind <see cref="PostgreSqlGrainStorage"/>: one loop takes every operation pending at that moment
/// (at most <see cref="MaxGroupSize"/>, at most one per state row), runs them as one batch on one connection (up to
/// three multi-row statements, one implicit transaction, one commit), and completes each operation only after that
/// commit returned. No timer: an operation that arrives while the loop is idle goes at once; operations that arrive
/// while a group is being committed form the next group. One group is in flight at a time, so two groups never lock
/// rows against each other.
/// </summary>
/// <remarks>
/// A row the ETag condition did not match completes its operation with <see cref="StateOperation.Version"/> null (the
/// caller raises Orleans' InconsistentStateException); a failed batch fails every operation of its group with the
/// driver's exception, and the transaction leaves nothing of the group behind.
/// </remarks>
internal sealed class PostgreSqlStateWriter : IAsyncDisposable
{
    // Each statement reads its group from arrays (ord = index in the group) and returns (ord, version, payload) for the
    // rows it matched.
    private const string WriteSql = $"""
        WITH input AS (
            SELECT * FROM unnest($2::integer[], $3::text[], $4::text[], $5::bytea[], $6::integer[]) AS t(ord, state_name, grain_id, payload, version)
        ),
        updated AS (
            UPDATE {PostgreSqlSchema.StateTable} s
               SET payload = i.payload, version = s.version + 1, modified_on = now()
              FROM input i
             WHERE i.version IS NOT NULL AND s.service_id = $1 AND s.state_name = i.state_name AND s.grain_id = i.grain_id
               AND s.version = i.version
            RETURNING i.ord, s.version
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

    private const string DeleteSql = $"""
        DELETE FROM {PostgreSqlSchema.StateTable} s
         USING unnest($2::integer[], $3::text[], $4::text[], $5::integer[]) AS i(ord, state_name, grain_id, version)
         WHERE s.service_id = $1 AND s.state_name = i.state_name AND s.grain_id = i.grain_id AND s.version = i.version
        RETURNING i.ord, s.version, NULL::bytea
        """;

    private const string ReadSql = $"""
        SELECT i.ord, s.version, s.payload
          FROM unnest($2::integer[], $3::text[], $4::text[]) AS i(ord, state_name, grain_id)
          JOIN {PostgreSqlSchema.StateTable} s ON s.service_id = $1 AND s.state_name = i.state_name AND s.grain_id = i.grain_id
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _serviceId;
    private readonly Channel<StateOperation> _pending = Channel.CreateUnbounded<StateOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private long _transactions;
    private int _queued;

    public PostgreSqlStateWriter(NpgsqlDataSource dataSource, string serviceId, int maxGroupSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxGroupSize, 1);
        _dataSource = dataSource;
        _serviceId = serviceId;
        MaxGroupSize = maxGroupSize;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>The most operations one group (one transaction) holds.</summary>
    public int MaxGroupSize { get; }

    /// <summary>Groups run so far (each one transaction, committed or failed): what the tests count.</summary>
    public long Transactions => Interlocked.Read(ref _transactions);

    /// <summary>Operations queued and not yet taken into a group.</summary>
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
        var group = new List<StateOperation>(MaxGroupSize);
        var rows = new HashSet<(string StateName, string GrainId)>();
        // Operations on a row already in the group wait for the next one, in their order.
        var deferred = new Queue<StateOperation>();
        var reader = _pending.Reader;
        while (deferred.Count > 0 || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            for (var n = deferred.Count; n > 0; n--)
            {
                Take(deferred.Dequeue());
            }
            while (group.Count < MaxGroupSize && reader.TryRead(out var operation))
            {
                Interlocked.Decrement(ref _queued);
                Take(operation);
            }
            await ExecuteAsync(group).ConfigureAwait(false);
            group.Clear();
            rows.Clear();
        }

        void Take(StateOperation operation)
        {
            if (group.Count < MaxGroupSize && rows.Add((operation.StateName, operation.GrainId)))
            {
                operation.Ord = group.Count;
                group.Add(operation);
            }
            else
            {
                deferred.Enqueue(operation);
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
                    AddStatement(batch, group, StateOperationKind.Write, WriteSql);
                    AddStatement(batch, group, StateOperationKind.Delete, DeleteSql);
                    AddStatement(batch, group, StateOperationKind.Read, ReadSql);
                    // Three statement texts in all: each is parsed and planned once per physical connection.
                    await batch.PrepareAsync().ConfigureAwait(false);
                    Interlocked.Increment(ref _transactions);
                    // Several statements without a transaction of their own: one implicit transaction, committed at the
                    // end of the batch; the reader ends only after the server reported that commit.
                    var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
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
}

/// <summary>
/// One read, write or delete of a state row, completed by <see cref="PostgreSqlStateWriter"/> after its group's commit:
/// <see cref="Version"/> is the row's version after the operation (read: as stored) when the row matched, null when
/// it did not (no row, or the ETag condition failed).
/// </summary>
internal sealed class StateOperation(StateOperationKind kind, string stateName, string grainId, byte[]? payload, int? expectedVersion)
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
