using System.Globalization;
using Npgsql;
using OrleansSessions.Storage;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// Grain state in the grain_state table with optimistic concurrency. Writes are group-committed: all writes that
/// arrive while a round trip is in flight go to PostgreSQL together as one statement over arrays, and every caller
/// still gets its own result (the new ETag, or <see cref="InconsistentStateException"/>).
/// </summary>
/// <remarks>
/// ETags are decimal strings of values drawn from one database sequence, so a version is never reused even after a
/// record is cleared and written again. Cancellation is honoured until a write is queued; a queued write is sent.
/// Connection failures surface as <see cref="NpgsqlException"/>; the pool reconnects by itself once the server is back.
/// </remarks>
public sealed class PostgreSqlGrainStorage : IGrainStorage
{
    // Reads are grouped like writes: one statement over arrays returns the rows found, by their position.
    private const string ReadBatchSql = """
        SELECT i.ord, g.data, g.etag
          FROM unnest($1::text[], $2::integer[], $3::text[]) WITH ORDINALITY AS i(state_name, interface_id, grain_key, ord)
          JOIN grain_state AS g
            ON g.state_name = i.state_name AND g.interface_id = i.interface_id AND g.grain_key = i.grain_key
        """;

    private const string ReadETagSql =
        "SELECT etag FROM grain_state WHERE state_name = $1 AND interface_id = $2 AND grain_key = $3";

    // Updates match on the expected ETag; inserts must not find a row. Only successes come back: an update by its
    // position in the arrays, an insert (ord 0) by its key, which is unique within a batch. Joining the results back
    // to the input in SQL would be a nested loop over CTE scans, quadratic in the batch size.
    private const string WriteBatchSql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::bytea[], $5::bigint[]) WITH ORDINALITY
                AS t(state_name, interface_id, grain_key, data, expected, ord)
        ),
        updated AS (
            UPDATE grain_state AS g
               SET data = i.data, etag = nextval('etag_seq'), updated_at = now()
              FROM input AS i
             WHERE i.expected IS NOT NULL
               AND g.state_name = i.state_name AND g.interface_id = i.interface_id AND g.grain_key = i.grain_key
               AND g.etag = i.expected
            RETURNING i.ord, g.etag
        ),
        inserted AS (
            INSERT INTO grain_state (state_name, interface_id, grain_key, data, etag, updated_at)
            SELECT state_name, interface_id, grain_key, data, nextval('etag_seq'), now()
              FROM input
             WHERE expected IS NULL
            ON CONFLICT DO NOTHING
            RETURNING state_name, interface_id, grain_key, etag
        )
        SELECT u.ord, u.etag, NULL::text, NULL::integer, NULL::text FROM updated AS u
        UNION ALL
        SELECT 0, n.etag, n.state_name, n.interface_id, n.grain_key FROM inserted AS n
        """;

    // Stored ETags of the writes that lost, for the exception message; runs only when a batch had conflicts.
    private const string ReadETagsSql = """
        SELECT i.ord, g.etag
          FROM unnest($1::text[], $2::integer[], $3::text[]) WITH ORDINALITY AS i(state_name, interface_id, grain_key, ord)
          JOIN grain_state AS g
            ON g.state_name = i.state_name AND g.interface_id = i.interface_id AND g.grain_key = i.grain_key
        """;

    private const string DeleteSql = """
        WITH deleted AS (
            DELETE FROM grain_state
             WHERE state_name = $1 AND interface_id = $2 AND grain_key = $3 AND etag = $4
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM deleted),
               (SELECT etag FROM grain_state WHERE state_name = $1 AND interface_id = $2 AND grain_key = $3)
        """;

    private readonly PostgreSqlDatabase _database;
    private readonly GroupCommitQueue<GrainStateKey, PendingWrite, WriteOutcome> _writes;
    private readonly GroupCommitQueue<GrainStateKey, bool, GrainStateRecord> _reads;

    /// <summary>Creates the provider over a shared pool.</summary>
    public PostgreSqlGrainStorage(PostgreSqlDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _writes = new GroupCommitQueue<GrainStateKey, PendingWrite, WriteOutcome>(FlushWritesAsync, database.Options.MaxWriteBatchSize, database.Options.MaxConcurrentFlushes);
        _reads = new GroupCommitQueue<GrainStateKey, bool, GrainStateRecord>(FlushReadsAsync, database.Options.MaxWriteBatchSize, database.Options.MaxConcurrentFlushes);
    }

    /// <inheritdoc />
    /// <remarks>Reads that arrive while another read is in flight go to PostgreSQL together (an activation storm after a failover, a janitor batch).</remarks>
    public async Task<GrainStateRecord> ReadAsync(string stateName, GrainId grainId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return await _reads.EnqueueAsync(new GrainStateKey(stateName, grainId.InterfaceId, grainId.Key), true).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<string> WriteAsync(string stateName, GrainId grainId, byte[] data, string? expectedETag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(data);
        cancellationToken.ThrowIfCancellationRequested();
        long? expected = null;
        if (expectedETag is not null)
        {
            if (!long.TryParse(expectedETag, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                // Not one of ours: it cannot match any stored version.
                throw new InconsistentStateException(await ReadETagAsync(stateName, grainId, cancellationToken).ConfigureAwait(false), expectedETag);
            }
            expected = parsed;
        }

        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        var outcome = await _writes.EnqueueAsync(
            new GrainStateKey(stateName, grainId.InterfaceId, grainId.Key),
            new PendingWrite(data, expected)).ConfigureAwait(false);
        if (outcome.NewETag is { } newETag)
        {
            return newETag.ToString(CultureInfo.InvariantCulture);
        }
        throw new InconsistentStateException(outcome.StoredETag?.ToString(CultureInfo.InvariantCulture), expectedETag);
    }

    /// <inheritdoc />
    public async Task ClearAsync(string stateName, GrainId grainId, string? expectedETag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        if (expectedETag is null)
        {
            // "No record may exist": clearing nothing succeeds, clearing a record nobody read is a conflict.
            var stored = await ReadETagAsync(stateName, grainId, cancellationToken).ConfigureAwait(false);
            if (stored is not null)
            {
                throw new InconsistentStateException(stored, (string?)null);
            }
            return;
        }
        if (!long.TryParse(expectedETag, NumberStyles.None, CultureInfo.InvariantCulture, out var expected))
        {
            throw new InconsistentStateException(await ReadETagAsync(stateName, grainId, cancellationToken).ConfigureAwait(false), expectedETag);
        }

        await using var command = _database.DataSource.CreateCommand(DeleteSql);
        AddKey(command, stateName, grainId);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expected });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (reader.GetInt64(0) == 0)
        {
            var stored = reader.IsDBNull(1) ? null : reader.GetInt64(1).ToString(CultureInfo.InvariantCulture);
            throw new InconsistentStateException(stored, expectedETag);
        }
    }

    private async Task<string?> ReadETagAsync(string stateName, GrainId grainId, CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(ReadETagSql);
        AddKey(command, stateName, grainId);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is long etag ? etag.ToString(CultureInfo.InvariantCulture) : null;
    }

    private static void AddKey(NpgsqlCommand command, string stateName, GrainId grainId)
    {
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = stateName });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = grainId.InterfaceId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = grainId.Key });
    }

    private async Task FlushWritesAsync(IReadOnlyList<GroupCommitQueue<GrainStateKey, PendingWrite, WriteOutcome>.Operation> batch)
    {
        var count = batch.Count;
        var stateNames = new string[count];
        var interfaceIds = new int[count];
        var keys = new string[count];
        var data = new byte[count][];
        var expected = new long?[count];
        for (var i = 0; i < count; i++)
        {
            var operation = batch[i];
            stateNames[i] = operation.Key.StateName;
            interfaceIds[i] = operation.Key.InterfaceId;
            keys[i] = operation.Key.Key;
            data[i] = operation.Item.Data;
            expected[i] = operation.Item.Expected;
        }

        await using var command = _database.DataSource.CreateCommand(WriteBatchSql);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = stateNames });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = interfaceIds });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys });
        command.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = data });
        command.Parameters.Add(new NpgsqlParameter<long?[]> { TypedValue = expected });

        // Results are collected first and published only after the statement completed, so no caller sees success
        // for a statement that later failed.
        var newETags = new long[count]; // 0: lost (sequence values start at 1)
        Dictionary<GrainStateKey, long>? inserted = null;
        await using (var reader = await command.ExecuteReaderAsync().ConfigureAwait(false))
        {
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                var ord = reader.GetInt64(0);
                var etag = reader.GetInt64(1);
                if (ord > 0)
                {
                    newETags[ord - 1] = etag;
                }
                else
                {
                    inserted ??= [];
                    inserted[new GrainStateKey(reader.GetString(2), reader.GetInt32(3), reader.GetString(4))] = etag;
                }
            }
        }

        var conflicts = 0;
        for (var i = 0; i < count; i++)
        {
            if (expected[i] is null && inserted is not null && inserted.TryGetValue(batch[i].Key, out var etag))
            {
                newETags[i] = etag;
            }
            if (newETags[i] == 0)
            {
                conflicts++;
            }
        }

        long?[]? storedETags = null;
        if (conflicts > 0)
        {
            storedETags = await ReadStoredETagsAsync(batch, newETags, conflicts).ConfigureAwait(false);
        }

        for (var i = 0; i < count; i++)
        {
            batch[i].TrySetResult(newETags[i] != 0 ? new WriteOutcome(newETags[i], null) : new WriteOutcome(null, storedETags![i]));
        }
    }

    private async Task FlushReadsAsync(IReadOnlyList<GroupCommitQueue<GrainStateKey, bool, GrainStateRecord>.Operation> batch)
    {
        var count = batch.Count;
        var stateNames = new string[count];
        var interfaceIds = new int[count];
        var keys = new string[count];
        for (var i = 0; i < count; i++)
        {
            stateNames[i] = batch[i].Key.StateName;
            interfaceIds[i] = batch[i].Key.InterfaceId;
            keys[i] = batch[i].Key.Key;
        }

        await using var command = _database.DataSource.CreateCommand(ReadBatchSql);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = stateNames });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = interfaceIds });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys });
        var records = new GrainStateRecord?[count];
        await using (var reader = await command.ExecuteReaderAsync().ConfigureAwait(false))
        {
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                records[reader.GetInt64(0) - 1] = new GrainStateRecord
                {
                    Data = reader.GetFieldValue<byte[]>(1),
                    ETag = reader.GetInt64(2).ToString(CultureInfo.InvariantCulture),
                };
            }
        }
        for (var i = 0; i < count; i++)
        {
            batch[i].TrySetResult(records[i] ?? new GrainStateRecord());
        }
    }

    private async Task<long?[]> ReadStoredETagsAsync(
        IReadOnlyList<GroupCommitQueue<GrainStateKey, PendingWrite, WriteOutcome>.Operation> batch, long[] newETags, int conflicts)
    {
        var stored = new long?[batch.Count];
        var positions = new int[conflicts];
        var stateNames = new string[conflicts];
        var interfaceIds = new int[conflicts];
        var keys = new string[conflicts];
        for (int i = 0, j = 0; i < batch.Count; i++)
        {
            if (newETags[i] == 0)
            {
                positions[j] = i;
                stateNames[j] = batch[i].Key.StateName;
                interfaceIds[j] = batch[i].Key.InterfaceId;
                keys[j] = batch[i].Key.Key;
                j++;
            }
        }
        try
        {
            await using var command = _database.DataSource.CreateCommand(ReadETagsSql);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = stateNames });
            command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = interfaceIds });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys });
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                stored[positions[reader.GetInt64(0) - 1]] = reader.GetInt64(1);
            }
        }
        catch (NpgsqlException)
        {
            // The writes are decided; the stored ETags only enrich the conflict message.
        }
        return stored;
    }

    private readonly record struct GrainStateKey(string StateName, int InterfaceId, string Key);

    private readonly record struct PendingWrite(byte[] Data, long? Expected);

    private readonly record struct WriteOutcome(long? NewETag, long? StoredETag);
}
