using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Configuration;
using Orleans.TestingHost;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

namespace OrleansSessions.PostgreSql.Tests;

/// <summary>
/// A TestCluster of two in-process silos whose clustering, reminders, grain storage and deadline index are all on
/// PostgreSQL (<see cref="SiloBuilderPostgreSqlExtensions.UseOrleansSessionsPostgreSql(ISiloBuilder, string)"/>),
/// with a fresh ClusterId and ServiceId, so its rows are its own. The client finds the gateways in the membership table.
/// </summary>
public sealed class PostgreSqlClusterFixture : IAsyncLifetime
{
    public const int JanitorPartitions = 3;

    private readonly PostgreSqlFixture _database = new();

    public TestCluster Cluster { get; private set; } = null!;

    public NpgsqlDataSource DataSource => _database.DataSource;

    public string ClusterId => Cluster.Options.ClusterId;

    public string ServiceId => Cluster.Options.ServiceId;

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        var builder = new TestClusterBuilder(2);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Properties["Storage:ConnectionString"] = _database.ConnectionString;
        builder.Properties["Janitor:Partitions"] = JanitorPartitions.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.AddSiloBuilderConfigurator<PostgreSqlSiloConfigurator>();
        builder.AddClientBuilderConfigurator<PostgreSqlClientConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }
        await _database.DisposeAsync();
    }

    public Task<T> ScalarAsync<T>(string sql, params object[] parameters) => _database.ScalarAsync<T>(sql, parameters);
}

/// <summary>Silos on PostgreSQL at the configuration's Storage:ConnectionString, with the session grains.</summary>
public sealed class PostgreSqlSiloConfigurator : ISiloConfigurator
{
    public void Configure(ISiloBuilder siloBuilder)
    {
        siloBuilder
            .UseOrleansSessionsPostgreSql(siloBuilder.Configuration["Storage:ConnectionString"]!)
            .AddOrleansSessions();
        // Reminders may tick every second (the tick test).
        siloBuilder.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
    }
}

/// <summary>The cluster client finds the gateways in the PostgreSQL membership table.</summary>
public sealed class PostgreSqlClientConfigurator : IClientBuilderConfigurator
{
    public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
    {
        clientBuilder.UseAdoNetClustering(o =>
        {
            o.Invariant = SiloBuilderPostgreSqlExtensions.Invariant;
            o.ConnectionString = configuration["Storage:ConnectionString"];
        });
        clientBuilder.AddMemoryStreams(SessionStreams.ProviderName);
    }
}

[CollectionDefinition(Name)]
public sealed class PostgreSqlClusterCollection : ICollectionFixture<PostgreSqlClusterFixture>
{
    public const string Name = "PostgreSQL cluster";
}
