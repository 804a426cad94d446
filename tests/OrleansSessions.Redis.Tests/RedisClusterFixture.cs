using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.TestingHost;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using StackExchange.Redis;

namespace OrleansSessions.Redis.Tests;

/// <summary>
/// A TestCluster of two in-process silos whose clustering, reminders, grain storage and deadline index are all on
/// Redis (<see cref="SiloBuilderRedisExtensions.UseOrleansSessionsRedis(ISiloBuilder, string)"/>), with a fresh
/// ClusterId and ServiceId, so its keys are its own. The client finds the gateways in the Redis membership hash.
/// </summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    public const int JanitorPartitions = 3;

    private readonly RedisFixture _redis = new();

    public TestCluster Cluster { get; private set; } = null!;

    public IDatabase Database => _redis.Database;

    public IServer Server => _redis.Connection.GetServers()[0];

    public string ClusterId => Cluster.Options.ClusterId;

    public string ServiceId => Cluster.Options.ServiceId;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        var builder = new TestClusterBuilder(2);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Properties["Storage:ConnectionString"] = RedisFixture.ConnectionString;
        builder.Properties["Janitor:Partitions"] = JanitorPartitions.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.AddSiloBuilderConfigurator<RedisSiloConfigurator>();
        builder.AddClientBuilderConfigurator<RedisClientConfigurator>();
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
        await _redis.DisposeAsync();
    }

    /// <summary>The keys matching <paramref name="pattern"/> (SCAN).</summary>
    public async Task<List<string>> KeysAsync(string pattern)
    {
        var keys = new List<string>();
        await foreach (var key in Server.KeysAsync(pattern: pattern, pageSize: 1000))
        {
            keys.Add(key.ToString());
        }
        return keys;
    }
}

/// <summary>Silos on Redis at the configuration's Storage:ConnectionString, with the session grains.</summary>
public sealed class RedisSiloConfigurator : ISiloConfigurator
{
    public void Configure(ISiloBuilder siloBuilder)
    {
        siloBuilder
            .UseOrleansSessionsRedis(siloBuilder.Configuration["Storage:ConnectionString"]!)
            .AddOrleansSessions();
        // Reminders may tick every second (the tick test).
        siloBuilder.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
    }
}

/// <summary>The cluster client finds the gateways in the Redis membership hash.</summary>
public sealed class RedisClientConfigurator : IClientBuilderConfigurator
{
    public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
    {
        clientBuilder.UseRedisClustering(configuration["Storage:ConnectionString"]!);
        clientBuilder.AddMemoryStreams(SessionStreams.ProviderName);
    }
}

[CollectionDefinition(Name)]
public sealed class RedisClusterCollection : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "Redis cluster";
}
