using Npgsql;
using NpgsqlTypes;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// Runs one group of <see cref="StateOperation"/>s of <see cref="PostgreSqlGrainStorage"/> as one batch on one
/// connection: the planner settings, then up to three multi-row statements (<see cref="PostgreSqlStatements.WriteSql"/>,
/// <see cref="PostgreSqlStatements.DeleteSql"/>, <see cref="PostgreSqlStatements.ReadSql"/>) in one implicit
/// transaction, and returns after the server reported its commit.
/// </summary>
/// <remarks>
/// A row the ETag condition did not match keeps <see cref="StateOperation.Version"/> null (the caller raises Orleans'
/// InconsistentStateException); a failed batch throws the driver's exception, and the transaction leaves nothing of
/// the group behind.
/// </remarks>
internal sealed class PostgreSqlStateExecutor(NpgsqlDataSource dataSource, string serviceId)
{
    public async Task CommitAsync(IReadOnlyList<StateOperation> group)
    {
        var connection = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var batch = PostgreSqlStatements.NewGroupBatch(connection);
            await using (batch.ConfigureAwait(false))
            {
                AddStatement(batch, group, StateOperationKind.Write, PostgreSqlStatements.WriteSql);
                AddStatement(batch, group, StateOperationKind.Delete, PostgreSqlStatements.DeleteSql);
                AddStatement(batch, group, StateOperationKind.Read, PostgreSqlStatements.ReadSql);
                // At most four statement texts: each is parsed once per physical connection.
                await batch.PrepareAsync().ConfigureAwait(false);
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

    private void AddStatement(NpgsqlBatch batch, IReadOnlyList<StateOperation> group, StateOperationKind kind, string sql)
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
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = serviceId });
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
