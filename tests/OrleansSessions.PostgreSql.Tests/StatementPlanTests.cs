using Npgsql;

namespace OrleansSessions.PostgreSql.Tests;

/// <summary>
/// The plans PostgreSQL makes for the group commit's statements (<see cref="PostgreSqlStatements"/>) when it plans
/// them from the statistics of a nearly empty table, as a prepared statement's generic plan made early in a silo's life
/// is: every statement must still reach the state table only by one primary-key probe per operation (an index scan on
/// the whole key) and the probed row's ctid, never by a scan of the ServiceId's rows. The tables are temporary copies of
/// the state and deadline tables (same columns and keys) holding three rows each, analysed, on one connection; the event
/// log's statements likewise reach its tables only by their keys.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class StatementPlanTests(PostgreSqlFixture fixture)
{
    public static TheoryData<string, string, string> Statements => new()
    {
        { "write", PostgreSqlStatements.WriteSql, "text, integer[], text[], text[], bytea[], integer[]" },
        { "delete", PostgreSqlStatements.DeleteSql, "text, integer[], text[], text[], integer[]" },
        { "read", PostgreSqlStatements.ReadSql, "text, integer[], text[], text[]" },
        { "remove_deadlines", PostgreSqlStatements.RemoveDeadlinesSql, "text, text[]" },
    };

    [Theory]
    [MemberData(nameof(Statements))]
    public async Task A_generic_plan_made_on_a_nearly_empty_table_probes_the_key_per_operation(string name, string sql, string parameterTypes)
    {
        await using var connection = await fixture.DataSource.OpenConnectionAsync();
        await ExecuteAsync(connection, $"""
            CREATE TEMP TABLE {PostgreSqlSchema.StateTable} (LIKE public.{PostgreSqlSchema.StateTable} INCLUDING ALL);
            INSERT INTO {PostgreSqlSchema.StateTable} (service_id, state_name, grain_id, payload, version, modified_on)
            SELECT 'plan', 'state', 'grain/' || g, '\x00'::bytea, 1, now() FROM generate_series(1, 3) g;
            ANALYZE {PostgreSqlSchema.StateTable};
            CREATE TEMP TABLE {PostgreSqlSchema.DeadlinesTable} (LIKE public.{PostgreSqlSchema.DeadlinesTable} INCLUDING ALL);
            INSERT INTO {PostgreSqlSchema.DeadlinesTable} (service_id, session_id, user_id, partition, deadline)
            SELECT 'plan', 'sess_' || g, 'user', 0, now() FROM generate_series(1, 3) g;
            ANALYZE {PostgreSqlSchema.DeadlinesTable};
            SET plan_cache_mode = force_generic_plan;
            """);
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(connection, PostgreSqlStatements.PlannerSql);
        await ExecuteAsync(connection, $"PREPARE plan_{name}({parameterTypes}) AS {sql}");
        var arguments = name switch
        {
            "write" => "'plan', '{0,1}', '{state,state}', '{grain/1,grain/9}', '{\"\\\\x01\",\"\\\\x02\"}', '{1,NULL}'",
            "delete" => "'plan', '{0,1}', '{state,state}', '{grain/1,grain/2}', '{1,1}'",
            "remove_deadlines" => "'plan', '{sess_1,sess_9}'",
            _ => "'plan', '{0,1}', '{state,state}', '{grain/1,grain/9}'",
        };

        var plan = new List<string>();
        await using (var explain = new NpgsqlCommand($"EXPLAIN EXECUTE plan_{name}({arguments})", connection))
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0).Trim());
            }
        }
        var text = string.Join('\n', plan);
        var (table, key) = name == "remove_deadlines" ? (PostgreSqlSchema.DeadlinesTable, "session_id =") : (PostgreSqlSchema.StateTable, "grain_id =");

        Assert.DoesNotContain("Seq Scan", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Bitmap", text, StringComparison.Ordinal);
        var reads = 0;
        for (var i = 0; i < plan.Count; i++)
        {
            var line = plan[i];
            if (!line.Contains($" on {table}", StringComparison.Ordinal))
            {
                continue;
            }
            var node = line.TrimStart('-', '>', ' ');
            if (node.StartsWith("Index Scan using", StringComparison.Ordinal))
            {
                // The whole key: ServiceId and the operation's state name and grain id (or session id).
                Assert.Contains(key, plan[i + 1], StringComparison.Ordinal);
                Assert.Contains("service_id", plan[i + 1], StringComparison.Ordinal);
                reads++;
            }
            else
            {
                Assert.True(
                    node.StartsWith("Tid Scan", StringComparison.Ordinal) || node.StartsWith("Update on", StringComparison.Ordinal)
                    || node.StartsWith("Delete on", StringComparison.Ordinal) || node.StartsWith("Insert on", StringComparison.Ordinal),
                    $"the state table is reached by '{node}' in:\n{text}");
            }
        }
        Assert.True(reads >= 1, $"no key probe in:\n{text}");
    }

    public static TheoryData<string, string, string, string, string> EventLogStatements => new()
    {
        {
            "append_events", PostgreSqlStatements.AppendEventsSql, "text, integer[], integer[], text[], bigint[], timestamptz[], bytea[]",
            "'plan', '{0,1}', '{0,0}', '{sess_1,sess_9}', '{1,1}', '{2030-01-01Z,2030-01-01Z}', '{\"\\\\x01\",\"\\\\x02\"}'",
            "session_id = i.session_id"
        },
        { "trim_events", PostgreSqlSessionEventLog.TrimSql, "text, integer, timestamptz, integer", "'plan', 0, '2030-01-01Z', 2048", "\"position\" > b" },
    };

    [Theory]
    [MemberData(nameof(EventLogStatements))]
    public async Task The_event_log_s_group_statements_reach_its_tables_only_by_their_keys_in_a_generic_plan(
        string name, string sql, string parameterTypes, string arguments, string eventsKey)
    {
        await using var connection = await fixture.DataSource.OpenConnectionAsync();
        await ExecuteAsync(connection, $"""
            CREATE TEMP TABLE {PostgreSqlSchema.EventsTable} (LIKE public.{PostgreSqlSchema.EventsTable} INCLUDING ALL);
            INSERT INTO {PostgreSqlSchema.EventsTable} (service_id, partition, position, session_id, sequence, at, payload)
            SELECT 'plan', 0, g, 'sess_' || g, 1, now(), '\x00'::bytea FROM generate_series(1, 3) g;
            ANALYZE {PostgreSqlSchema.EventsTable};
            CREATE TEMP TABLE {PostgreSqlSchema.EventHeadsTable} (LIKE public.{PostgreSqlSchema.EventHeadsTable} INCLUDING ALL);
            INSERT INTO {PostgreSqlSchema.EventHeadsTable} (service_id, partition, head, trimmed_through) VALUES ('plan', 0, 3, 0);
            ANALYZE {PostgreSqlSchema.EventHeadsTable};
            SET plan_cache_mode = force_generic_plan;
            """);
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(connection, PostgreSqlStatements.PlannerSql);
        await ExecuteAsync(connection, $"PREPARE plan_{name}({parameterTypes}) AS {sql}");

        var plan = new List<string>();
        await using (var explain = new NpgsqlCommand($"EXPLAIN EXECUTE plan_{name}({arguments})", connection))
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0).Trim());
            }
        }
        var text = string.Join('\n', plan);

        Assert.DoesNotContain("Seq Scan", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Bitmap", text, StringComparison.Ordinal);
        var probes = 0;
        for (var i = 0; i < plan.Count; i++)
        {
            var node = plan[i].TrimStart('-', '>', ' ');
            if (!node.Contains($" on {PostgreSqlSchema.EventsTable} ", StringComparison.Ordinal)
                && !node.Contains($" on {PostgreSqlSchema.EventHeadsTable} ", StringComparison.Ordinal))
            {
                continue;
            }
            if (node.StartsWith("Index Scan using", StringComparison.Ordinal))
            {
                // The ServiceId and the rest of a key: (session id, sequence number), (partition, position) or the partition.
                Assert.Contains("service_id", plan[i + 1], StringComparison.Ordinal);
                Assert.True(plan[i + 1].Contains(eventsKey, StringComparison.Ordinal) || plan[i + 1].Contains("partition = ", StringComparison.Ordinal),
                    $"'{plan[i + 1]}' in:\n{text}");
                probes++;
            }
            else
            {
                Assert.True(
                    node.StartsWith("Insert on", StringComparison.Ordinal) || node.StartsWith("Update on", StringComparison.Ordinal)
                    || node.StartsWith("Delete on", StringComparison.Ordinal),
                    $"the event log's tables are reached by '{node}' in:\n{text}");
            }
        }
        Assert.Contains(eventsKey, text, StringComparison.Ordinal);
        Assert.True(probes >= 1, $"no key probe in:\n{text}");
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
