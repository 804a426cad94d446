using Npgsql;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class SchemaTests(PostgreSqlFixture fixture)
{
    [Fact]
    public async Task Five_concurrent_initializations_of_an_empty_schema_all_succeed_and_migrate_once()
    {
        // A fresh PostgreSQL schema (namespace) stands in for a fresh database: the tables are created in it via
        // the search path, so this really races CREATE TABLE from scratch.
        var schema = "t_" + Guid.NewGuid().ToString("N");
        await using var admin = NpgsqlDataSource.Create(fixture.ConnectionString);
        await using (var create = admin.CreateCommand($"CREATE SCHEMA {schema}"))
        {
            await create.ExecuteNonQueryAsync();
        }
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { SearchPath = schema }.ConnectionString;
            var databases = Enumerable.Range(0, 5)
                .Select(i => new PostgreSqlDatabase(new PostgreSqlOptions { ConnectionString = connectionString, ClusterId = $"schema-{i}" }))
                .ToArray();
            try
            {
                using var go = new ManualResetEventSlim();
                var tasks = databases.Select(d => Task.Run(async () =>
                {
                    go.Wait();
                    await d.EnsureSchemaAsync();
                    await new PostgreSqlMembershipTable(d).InitializeAsync(default);
                })).ToArray();
                go.Set();
                await Task.WhenAll(tasks);

                await using var versions = admin.CreateCommand($"SELECT array_agg(version ORDER BY version) FROM {schema}.schema_version");
                var applied = (int[])(await versions.ExecuteScalarAsync())!;
                Assert.Equal(PostgreSqlSchema.Migrations.Select(m => m.Version).ToArray(), applied);

                await using var tables = admin.CreateCommand(
                    "SELECT array_agg(table_name::text ORDER BY table_name) FROM information_schema.tables WHERE table_schema = $1");
                tables.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema });
                var names = (string[])(await tables.ExecuteScalarAsync())!;
                foreach (var table in new[] { "grain_state", "membership", "membership_version", "reminders", "schema_version", "session_deadlines" })
                {
                    Assert.Contains(table, names);
                }

                // Running it again (a silo restart) is a no-op.
                await using var again = new PostgreSqlDatabase(databases[0].Options);
                await again.EnsureSchemaAsync();
            }
            finally
            {
                foreach (var database in databases)
                {
                    await database.DisposeAsync();
                }
            }
        }
        finally
        {
            await using var drop = admin.CreateCommand($"DROP SCHEMA {schema} CASCADE");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task A_database_at_an_older_schema_version_is_migrated_forward()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N");
        await using var admin = NpgsqlDataSource.Create(fixture.ConnectionString);
        var (firstVersion, _, firstSql) = PostgreSqlSchema.Migrations[0];
        await using (var setup = admin.CreateCommand(
            $"CREATE SCHEMA {schema}; SET search_path TO {schema}; {PostgreSqlSchema.CreateVersionTable} {firstSql} " +
            $"INSERT INTO schema_version (version) VALUES ({firstVersion});"))
        {
            await setup.ExecuteNonQueryAsync();
        }
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { SearchPath = schema }.ConnectionString;
            await using var database = new PostgreSqlDatabase(new PostgreSqlOptions { ConnectionString = connectionString, ClusterId = "migrate" });
            await database.EnsureSchemaAsync();

            await using var versions = admin.CreateCommand($"SELECT array_agg(version ORDER BY version) FROM {schema}.schema_version");
            Assert.Equal(PostgreSqlSchema.Migrations.Select(m => m.Version).ToArray(), (int[])(await versions.ExecuteScalarAsync())!);
            var index = new PostgreSqlSessionDeadlineIndex(database);
            await index.UpsertAsync("sess_migrated", "u", DateTimeOffset.UnixEpoch, 0);
            Assert.Single(await index.ReadDueAsync(0, DateTimeOffset.UnixEpoch, 10));
        }
        finally
        {
            await using var drop = admin.CreateCommand($"DROP SCHEMA {schema} CASCADE");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task Unreachable_server_fails_initialization_naming_host_port_and_database_but_not_the_password()
    {
        await using var database = new PostgreSqlDatabase(new PostgreSqlOptions
        {
            ConnectionString = "Host=127.0.0.1;Port=1;Username=postgres;Password=s3cr3t-pw;Database=nowhere_db;Timeout=3",
            ClusterId = "unreachable",
        });
        var membership = new PostgreSqlMembershipTable(database);

        var ex = await Assert.ThrowsAsync<PostgreSqlUnavailableException>(() => membership.InitializeAsync(default));
        Assert.Contains("127.0.0.1", ex.Message);
        Assert.Contains("port 1", ex.Message);
        Assert.Contains("nowhere_db", ex.Message);
        Assert.DoesNotContain("s3cr3t-pw", ex.ToString());
        Assert.Equal("127.0.0.1", ex.Host);
        Assert.Equal(1, ex.Port);

        // The reminder table reports the same way (and a failed initialization is retried, not cached).
        var reminders = new PostgreSqlReminderTable(database);
        await Assert.ThrowsAsync<PostgreSqlUnavailableException>(() => reminders.InitializeAsync(default));
    }

    [Fact]
    public void Options_are_validated_naming_the_key()
    {
        var ex = Assert.Throws<ArgumentException>(() => new PostgreSqlDatabase(new PostgreSqlOptions { ConnectionString = "", ClusterId = "x" }));
        Assert.Contains("Storage:ConnectionString", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new PostgreSqlDatabase(new PostgreSqlOptions { ConnectionString = fixture.ConnectionString, ClusterId = " " }));
        Assert.Contains("Cluster:ClusterId", ex.Message);
    }
}
