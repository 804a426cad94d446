using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans.TestingHost;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class SchemaTests(PostgreSqlFixture fixture)
{
    private static readonly string[] Tables =
    [
        "orleansquery", "orleansmembershipversiontable", "orleansmembershiptable", "orleansstorage",
        "orleansreminderstable", PostgreSqlSchema.DeadlinesTable, PostgreSqlSchema.StateTable,
        PostgreSqlSchema.EventsTable, PostgreSqlSchema.EventHeadsTable,
    ];

    [Fact]
    public async Task Applies_concurrently_to_an_empty_schema_then_twice_more_and_fills_every_query_key()
    {
        // A fresh PostgreSQL schema (namespace) stands in for a fresh database: the search path puts every table in
        // it, so this really races CREATE TABLE from scratch.
        var schema = "t_" + Guid.NewGuid().ToString("N");
        await using (var create = fixture.DataSource.CreateCommand($"CREATE SCHEMA {schema}"))
        {
            await create.ExecuteNonQueryAsync();
        }
        var connectionString = new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { SearchPath = schema }.ConnectionString;
        var dataSources = Enumerable.Range(0, 5).Select(_ => NpgsqlDataSource.Create(connectionString)).ToArray();
        try
        {
            using var go = new ManualResetEventSlim();
            var racers = dataSources.Select(d => Task.Run(async () =>
            {
                go.Wait();
                await PostgreSqlSchema.ApplyAsync(d);
            })).ToArray();
            go.Set();
            await Task.WhenAll(racers);

            // A restart, and another: no error, nothing changes.
            await PostgreSqlSchema.ApplyAsync(dataSources[0]);
            await PostgreSqlSchema.ApplyAsync(dataSources[1]);

            await using var tables = fixture.DataSource.CreateCommand(
                "SELECT array_agg(table_name::text ORDER BY table_name) FROM information_schema.tables WHERE table_schema = $1");
            tables.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema });
            var names = (string[])(await tables.ExecuteScalarAsync())!;
            Assert.Equal(Tables.Order(StringComparer.Ordinal), names);
            await using var indexes = fixture.DataSource.CreateCommand(
                "SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes WHERE schemaname = $1 AND indexname NOT LIKE 'pk_%'");
            indexes.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema });
            Assert.Equal(
                ["ix_orleansreminderstable_grainhash", "ix_orleanssessions_deadlines_due", "ux_orleanssessions_events_session", "ux_orleansstorage_key"],
                (string[])(await indexes.ExecuteScalarAsync())!);

            await using var queries = fixture.DataSource.CreateCommand($"SELECT QueryKey, QueryText FROM {schema}.OrleansQuery");
            var stored = new Dictionary<string, string>(StringComparer.Ordinal);
            await using (var reader = await queries.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    stored.Add(reader.GetString(0), reader.GetString(1));
                }
            }
            var required = PostgreSqlSchema.ClusteringQueryKeys
                .Concat(PostgreSqlSchema.PersistenceQueryKeys)
                .Concat(PostgreSqlSchema.RemindersQueryKeys)
                .Append(PostgreSqlSchema.CleanupDefunctSiloEntryKey)
                .ToArray();
            Assert.Equal(9, PostgreSqlSchema.ClusteringQueryKeys.Count);
            Assert.Equal(4, PostgreSqlSchema.PersistenceQueryKeys.Count);
            Assert.Equal(7, PostgreSqlSchema.RemindersQueryKeys.Count);
            Assert.Equal(required.Order(StringComparer.Ordinal), stored.Keys.Order(StringComparer.Ordinal));
            Assert.All(stored, q => Assert.Contains("@", q.Value, StringComparison.Ordinal));

            // The providers' own loading query finds them.
            await using var load = dataSources[2].CreateCommand("SELECT count(*) FROM OrleansQuery");
            Assert.Equal((long)required.Length, (long)(await load.ExecuteScalarAsync())!);
        }
        finally
        {
            foreach (var dataSource in dataSources)
            {
                await dataSource.DisposeAsync();
            }
            await using var drop = fixture.DataSource.CreateCommand($"DROP SCHEMA {schema} CASCADE");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task A_changed_query_text_is_restored_by_the_next_run()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N");
        await using (var create = fixture.DataSource.CreateCommand($"CREATE SCHEMA {schema}"))
        {
            await create.ExecuteNonQueryAsync();
        }
        var connectionString = new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { SearchPath = schema }.ConnectionString;
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            await PostgreSqlSchema.ApplyAsync(dataSource);
            await using (var tamper = dataSource.CreateCommand("UPDATE OrleansQuery SET QueryText = 'SELECT 1' WHERE QueryKey = 'GatewaysQueryKey'"))
            {
                Assert.Equal(1, await tamper.ExecuteNonQueryAsync());
            }
            await PostgreSqlSchema.ApplyAsync(dataSource);
            await using var read = dataSource.CreateCommand("SELECT QueryText FROM OrleansQuery WHERE QueryKey = 'GatewaysQueryKey'");
            Assert.Contains("ProxyPort > 0", (string)(await read.ExecuteScalarAsync())!, StringComparison.Ordinal);
        }
        finally
        {
            await using var drop = fixture.DataSource.CreateCommand($"DROP SCHEMA {schema} CASCADE");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task Unreachable_server_fails_with_one_line_naming_host_and_port_but_not_the_password()
    {
        await using var dataSource = NpgsqlDataSource.Create(
            "Host=127.0.0.1;Port=1;Username=postgres;Password=s3cr3t-pw;Database=nowhere_db;Timeout=3");
        var ex = await Assert.ThrowsAsync<PostgreSqlUnavailableException>(() => PostgreSqlSchema.ApplyAsync(dataSource));
        Assert.StartsWith("PostgreSQL at 127.0.0.1:1 (database 'nowhere_db') is unreachable: ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain("s3cr3t-pw", ex.ToString(), StringComparison.Ordinal);
        Assert.Equal("127.0.0.1", ex.Host);
        Assert.Equal(1, ex.Port);
        Assert.IsAssignableFrom<InvalidOperationException>(ex);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("this is not a connection string")]
    [InlineData("Host=127.0.0.1;NoSuchKeyword=1")]
    [InlineData("Database=x;Username=postgres")]
    public void The_connection_string_is_validated_at_registration_naming_the_key(string connectionString)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        ArgumentException? caught = null;
        builder.UseOrleans(silo => caught = Assert.ThrowsAny<ArgumentException>(() => silo.UseOrleansSessionsPostgreSql(connectionString)));
        Assert.NotNull(caught);
        Assert.Contains("Storage:ConnectionString", caught.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_on_an_empty_database_creates_the_schema_before_the_orleans_providers_start()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N");
        await using (var create = fixture.DataSource.CreateCommand($"CREATE SCHEMA {schema}"))
        {
            await create.ExecuteNonQueryAsync();
        }
        var builder = new TestClusterBuilder(1);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Properties["Storage:ConnectionString"] =
            new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { SearchPath = schema, MaxPoolSize = 10 }.ConnectionString;
        builder.AddSiloBuilderConfigurator<PostgreSqlSiloConfigurator>();
        builder.AddClientBuilderConfigurator<PostgreSqlClientConfigurator>();
        var cluster = builder.Build();
        try
        {
            // Clustering and reminders load OrleansQuery at start and fail without it: a started silo proves the order.
            await cluster.DeployAsync();
            var session = await cluster.Client.GetGrain<IUserSessionsGrain>("user-empty-db").CreateSessionAsync();
            Assert.Equal(1L, await fixture.ScalarAsync<long>(
                $"SELECT count(*) FROM {schema}.OrleansMembershipTable WHERE DeploymentId = $1 AND Status = 3", cluster.Options.ClusterId));
            Assert.Equal(1L, await fixture.ScalarAsync<long>(
                $"SELECT count(*) FROM {schema}.{PostgreSqlSchema.StateTable} WHERE grain_id = $1", "session/" + session.SessionId));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
            await using var drop = fixture.DataSource.CreateCommand($"DROP SCHEMA {schema} CASCADE");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task A_silo_whose_database_is_unreachable_fails_to_start_naming_it()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.UseOrleans(silo => silo
            .UseOrleansSessionsPostgreSql("Host=127.0.0.1;Port=1;Username=postgres;Password=s3cr3t-pw;Database=nowhere_db;Timeout=3")
            .AddOrleansSessions());
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(timeout.Token));
        var unavailable = Assert.IsType<PostgreSqlUnavailableException>(ex);
        Assert.StartsWith("PostgreSQL at 127.0.0.1:1 ", unavailable.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', unavailable.Message);
        // Nothing got as far as Orleans' own providers (they would fail on the missing OrleansQuery table instead).
        Assert.DoesNotContain("OrleansQuery", ex.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
