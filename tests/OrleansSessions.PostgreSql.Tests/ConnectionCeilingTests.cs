using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.TestingHost;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.PostgreSql.Tests;

/// <summary>
/// A silo on PostgreSQL holds at most <c>Maximum Pool Size</c> connections, whatever the burst: Orleans' ADO.NET
/// providers (membership, reminders, PubSubStore), the grain storage and the deadline index share one pool, in which
/// callers beyond the ceiling queue. The silo's connections are told apart in <c>pg_stat_activity</c> by the
/// <c>Application Name</c> of its connection string (the test client's has another).
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class ConnectionCeilingTests(PostgreSqlFixture database, ITestOutputHelper output)
{
    private const int MaxPoolSize = 5;
    private const int Users = 300;
    private const int JanitorPartitions = 4;

    [Fact]
    public async Task A_burst_of_creates_closes_and_janitor_sweeps_never_holds_more_than_Maximum_Pool_Size_connections()
    {
        var applicationName = PostgreSqlFixture.UniqueName("pool");
        var builder = new TestClusterBuilder(1);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Properties["Storage:ConnectionString"] = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            MaxPoolSize = MaxPoolSize,
            ApplicationName = applicationName,
        }.ConnectionString;
        builder.Properties[CeilingClientConfigurator.ConnectionStringKey] = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            MaxPoolSize = 2,
            ApplicationName = applicationName + "-client",
        }.ConnectionString;
        builder.Properties["Janitor:Partitions"] = JanitorPartitions.ToString(CultureInfo.InvariantCulture);
        builder.AddSiloBuilderConfigurator<PostgreSqlSiloConfigurator>();
        builder.AddClientBuilderConfigurator<CeilingClientConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            using var stop = new CancellationTokenSource();
            var sampling = MostConnectionsAsync(applicationName, stop.Token);
            var failures = new ConcurrentQueue<Exception>();

            var work = new List<Task>();
            for (var i = 0; i < Users; i++)
            {
                work.Add(CreateAndCloseAsync(cluster, $"pool-user-{i}", failures));
            }
            for (var partition = 0; partition < JanitorPartitions; partition++)
            {
                work.Add(SweepAsync(cluster, partition, failures));
            }
            await Task.WhenAll(work);
            // Each user writes its history-retention row in the deadline index once it has heard of the close (a
            // failure there is logged and retried at the user's next write, not thrown to the caller): wait until every
            // one is stored. No user registers a reminder.
            await Wait.UntilAsync(async () => await database.ScalarAsync<int>(
                    $"SELECT count(*) FROM {PostgreSqlSchema.DeadlinesTable} WHERE service_id = $1 AND session_id LIKE '{DeadlineKeys.HistoryPrefix}%'",
                    cluster.Options.ServiceId) == Users,
                what: $"the {Users} users' history-retention rows in {PostgreSqlSchema.DeadlinesTable}");
            Assert.Equal(0, await database.ScalarAsync<int>(
                "SELECT count(*) FROM OrleansRemindersTable WHERE ServiceId = $1 AND GrainId NOT LIKE 'janitor/%'", cluster.Options.ServiceId));

            await stop.CancelAsync();
            var most = await sampling;
            output.WriteLine($"most connections with application_name {applicationName}: {most} (Maximum Pool Size {MaxPoolSize})");

            Assert.True(failures.IsEmpty, $"{failures.Count} calls failed, the first: {failures.FirstOrDefault()}");
            Assert.InRange(most, 1, MaxPoolSize);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task Every_provider_of_the_silo_uses_its_one_data_source_which_logs_through_the_host()
    {
        var log = new NpgsqlLogCapture();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(log).AddFilter("Npgsql", LogLevel.Information);
        builder.UseOrleans(silo => silo.UseOrleansSessionsPostgreSql(database.ConnectionString).AddOrleansSessions());
        using var host = builder.Build();
        var services = host.Services;

        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(SiloBuilderPostgreSqlExtensions.DataSourceServiceKey);
        Assert.Same(dataSource, services.GetRequiredService<IOptions<AdoNetClusteringSiloOptions>>().Value.DataSource);
        Assert.Same(dataSource, services.GetRequiredService<IOptions<AdoNetReminderTableOptions>>().Value.DataSource);
        Assert.Same(dataSource, services.GetRequiredService<IOptionsMonitor<AdoNetGrainStorageOptions>>()
            .Get(SiloBuilderPostgreSqlExtensions.PubSubStoreName).DataSource);
        Assert.Null(services.GetRequiredService<IOptions<AdoNetClusteringSiloOptions>>().Value.ConnectionString);
        Assert.Equal(new NpgsqlConnectionStringBuilder(database.ConnectionString).MaxPoolSize,
            new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxPoolSize);

        await using (var command = dataSource.CreateCommand("SELECT 1"))
        {
            await command.ExecuteScalarAsync();
        }
        Assert.Contains(log.Categories, category => category.StartsWith("Npgsql.", StringComparison.Ordinal));
    }

    private static async Task CreateAndCloseAsync(TestCluster cluster, string userId, ConcurrentQueue<Exception> failures)
    {
        try
        {
            var created = await cluster.Client.GetGrain<IUserSessionsGrain>(userId).CreateSessionAsync();
            await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).CloseAsync();
        }
        catch (Exception exception)
        {
            failures.Enqueue(exception);
        }
    }

    private static async Task SweepAsync(TestCluster cluster, int partition, ConcurrentQueue<Exception> failures)
    {
        try
        {
            var janitor = cluster.Client.GetGrain<IJanitorGrain>(partition.ToString(CultureInfo.InvariantCulture));
            for (var sweep = 0; sweep < 5; sweep++)
            {
                await janitor.RunNowAsync();
            }
        }
        catch (Exception exception)
        {
            failures.Enqueue(exception);
        }
    }

    /// <summary>The most backends with <paramref name="applicationName"/> seen until <paramref name="stop"/>, and once after.</summary>
    private async Task<int> MostConnectionsAsync(string applicationName, CancellationToken stop)
    {
        var most = 0;
        while (true)
        {
            var stopping = stop.IsCancellationRequested;
            most = Math.Max(most, await database.ScalarAsync<int>(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", applicationName));
            if (stopping)
            {
                return most;
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5), stop);
            }
            catch (OperationCanceledException)
            {
                // One more sample after the burst: an idle connection stays in its pool.
            }
        }
    }
}

/// <summary>The test client finds the gateways with its own connection string (another Application Name).</summary>
public sealed class CeilingClientConfigurator : IClientBuilderConfigurator
{
    public const string ConnectionStringKey = "Storage:ClientConnectionString";

    public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
    {
        clientBuilder.UseAdoNetClustering(o =>
        {
            o.Invariant = SiloBuilderPostgreSqlExtensions.Invariant;
            o.ConnectionString = configuration[ConnectionStringKey];
        });
        clientBuilder.AddMemoryStreams(SessionStreams.ProviderName);
    }
}

/// <summary>Records the categories of the host's log entries.</summary>
internal sealed class NpgsqlLogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _categories = new();

    public IReadOnlyCollection<string> Categories => _categories;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(NpgsqlLogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner._categories.Enqueue(category);
    }
}
