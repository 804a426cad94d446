using Npgsql;
using NpgsqlTypes;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// An append of one event to the session event log (<see cref="PostgreSqlSessionEventLog"/>); <see cref="Position"/>
/// is set before its group's commit completes it. The row is the event's identity: a group holds at most one append
/// of an event.
/// </summary>
internal sealed class AppendOperation(int partition, string sessionId, long sequence, DateTimeOffset at, byte[] payload)
    : GroupCommitOperation<(string SessionId, long Sequence)>
{
    public int Partition { get; } = partition;

    public string SessionId { get; } = sessionId;

    public long Sequence { get; } = sequence;

    public override (string SessionId, long Sequence) Row => (SessionId, Sequence);

    /// <summary>UTC.</summary>
    public DateTimeOffset At { get; } = at;

    /// <summary>The event, serialized.</summary>
    public byte[] Payload { get; } = payload;

    /// <summary>The event's position, new or as first recorded.</summary>
    public long Position { get; set; }
}

/// <summary>
/// Runs one group of <see cref="AppendOperation"/>s as one batch on one connection: the planner settings, then
/// <see cref="PostgreSqlStatements.AppendEventsSql"/> for the whole group, one implicit transaction; returns after its
/// commit with every operation's position set, throws the driver's exception when it failed.
/// </summary>
/// <remarks>
/// An event appended by this group and, at the same moment, by another silo's (a repeat after a lost answer, still
/// running there) fails the later transaction on the unique key: nothing of it is kept, and it runs again, now
/// finding the event recorded. That is the only retry.
/// </remarks>
internal sealed class PostgreSqlEventLogExecutor(NpgsqlDataSource dataSource, string serviceId)
{
    private const int Attempts = 3;

    public async Task CommitAsync(IReadOnlyList<AppendOperation> group)
    {
        var ords = new int[group.Count];
        var partitions = new int[group.Count];
        var sessionIds = new string[group.Count];
        var sequences = new long[group.Count];
        var ats = new DateTimeOffset[group.Count];
        var payloads = new byte[group.Count][];
        for (var i = 0; i < group.Count; i++)
        {
            var operation = group[i];
            ords[i] = operation.Ord;
            partitions[i] = operation.Partition;
            sessionIds[i] = operation.SessionId;
            sequences[i] = operation.Sequence;
            ats[i] = operation.At;
            payloads[i] = operation.Payload;
        }
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await RunAsync(group, ords, partitions, sessionIds, sequences, ats, payloads).ConfigureAwait(false);
                return;
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation && attempt < Attempts)
            {
                // Another transaction recorded one of these events first; the next attempt finds it.
            }
        }
    }

    private async Task RunAsync(IReadOnlyList<AppendOperation> group, int[] ords, int[] partitions, string[] sessionIds, long[] sequences, DateTimeOffset[] ats, byte[][] payloads)
    {
        var connection = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var batch = PostgreSqlStatements.NewGroupBatch(connection);
            await using (batch.ConfigureAwait(false))
            {
                var command = new NpgsqlBatchCommand(PostgreSqlStatements.AppendEventsSql);
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = serviceId });
                command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = ords });
                command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = partitions });
                command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = sessionIds });
                command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = sequences });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = ats });
                command.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
                batch.BatchCommands.Add(command);
                await batch.PrepareAsync().ConfigureAwait(false);
                var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    // The planner settings' row first; then one row per operation. The reader ends after the commit.
                    await reader.NextResultAsync().ConfigureAwait(false);
                    while (await reader.ReadAsync().ConfigureAwait(false))
                    {
                        group[reader.GetInt32(0)].Position = reader.GetInt64(1);
                    }
                    while (await reader.NextResultAsync().ConfigureAwait(false))
                    {
                    }
                }
            }
        }
    }
}
