using Npgsql;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// An upsert or remove of one row of the session deadline index (<see cref="PostgreSqlSessionDeadlineIndex"/>);
/// completed after its group's commit.
/// </summary>
internal sealed class DeadlineOperation(bool remove, string sessionId, string userId, int partition, DateTimeOffset deadline)
    : GroupCommitOperation<string>
{
    public bool IsRemove { get; } = remove;

    public string SessionId { get; } = sessionId;

    public override string Row => SessionId;

    public string UserId { get; } = userId;

    public int Partition { get; } = partition;

    /// <summary>UTC.</summary>
    public DateTimeOffset Deadline { get; } = deadline;
}

/// <summary>
/// Runs one group of <see cref="DeadlineOperation"/>s as one batch on one connection: the planner settings, then
/// <see cref="PostgreSqlStatements.UpsertDeadlinesSql"/> and <see cref="PostgreSqlStatements.RemoveDeadlinesSql"/> for
/// the upserts and removes of the group, in one implicit transaction; returns after its commit, throws the driver's
/// exception when it failed.
/// </summary>
internal sealed class PostgreSqlDeadlineExecutor(NpgsqlDataSource dataSource, string serviceId)
{
    public async Task CommitAsync(IReadOnlyList<DeadlineOperation> group)
    {
        List<DeadlineOperation>? upserts = null;
        List<string>? removes = null;
        foreach (var operation in group)
        {
            if (operation.IsRemove)
            {
                (removes ??= []).Add(operation.SessionId);
            }
            else
            {
                (upserts ??= []).Add(operation);
            }
        }
        var connection = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var batch = PostgreSqlStatements.NewGroupBatch(connection);
            await using (batch.ConfigureAwait(false))
            {
                if (upserts is not null)
                {
                    var command = new NpgsqlBatchCommand(PostgreSqlStatements.UpsertDeadlinesSql);
                    command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = serviceId });
                    command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = upserts.Select(u => u.SessionId).ToArray() });
                    command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = upserts.Select(u => u.UserId).ToArray() });
                    command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = upserts.Select(u => u.Partition).ToArray() });
                    command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = upserts.Select(u => u.Deadline).ToArray() });
                    batch.BatchCommands.Add(command);
                }
                if (removes is not null)
                {
                    var command = new NpgsqlBatchCommand(PostgreSqlStatements.RemoveDeadlinesSql);
                    command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = serviceId });
                    command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = removes.ToArray() });
                    batch.BatchCommands.Add(command);
                }
                await batch.PrepareAsync().ConfigureAwait(false);
                // One implicit transaction for the whole batch; the call returns after its commit.
                await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
        }
    }
}
