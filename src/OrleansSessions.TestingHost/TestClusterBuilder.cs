using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Client;
using OrleansSessions.Hosting;

namespace OrleansSessions.TestingHost;

/// <summary>Configures a <see cref="TestCluster"/>: silo count, silo and client configuration, grain time.</summary>
public sealed class TestClusterBuilder
{
    /// <summary>Creates a builder for <paramref name="initialSilosCount"/> silos.</summary>
    public TestClusterBuilder(int initialSilosCount = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(initialSilosCount, 1);
        InitialSilosCount = initialSilosCount;
    }

    /// <summary>The number of silos started by <see cref="BuildAndStartAsync"/>.</summary>
    public int InitialSilosCount { get; set; }

    internal List<Action<ISiloBuilder>> SiloConfigurations { get; } = [];

    internal List<Action<IServiceCollection>> SiloServiceConfigurations { get; } = [];

    internal List<Action<WebApplication>> ApplicationConfigurations { get; } = [];

    internal List<Action<ClientOptions>> ClientConfigurations { get; } = [];

    internal Dictionary<string, string?> Configuration { get; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Membership:ProbePeriod"] = "00:00:00.500",
        ["Membership:ProbeTimeout"] = "00:00:01",
        ["Membership:NumMissedProbesLimit"] = "3",
        ["Membership:TableRefreshPeriod"] = "00:00:00.250",
        ["Membership:IAmAlivePeriod"] = "00:00:00.250",
        ["Membership:IAmAliveTimeout"] = "00:00:10",
        ["Reminders:MinimumReminderPeriod"] = "00:00:00.100",
        ["Reminders:RefreshPeriod"] = "00:00:01",
        ["Cluster:ClusterId"] = "testcluster",
    };

    internal TimeProvider? GrainTimeProvider { get; private set; }

    internal bool EnableHttp { get; private set; }

    /// <summary>Adds grains and providers to every silo.</summary>
    public TestClusterBuilder ConfigureSilo(Action<ISiloBuilder> configure)
    {
        SiloConfigurations.Add(configure);
        return this;
    }

    /// <summary>Adds services to every silo.</summary>
    public TestClusterBuilder ConfigureSiloServices(Action<IServiceCollection> configure)
    {
        SiloServiceConfigurations.Add(configure);
        return this;
    }

    /// <summary>Serves HTTP on every silo (a free port each) and runs <paramref name="configure"/> to map endpoints.</summary>
    public TestClusterBuilder ConfigureApplication(Action<WebApplication> configure)
    {
        EnableHttp = true;
        ApplicationConfigurations.Add(configure);
        return this;
    }

    /// <summary>Configures the cluster's client.</summary>
    public TestClusterBuilder ConfigureClient(Action<ClientOptions> configure)
    {
        ClientConfigurations.Add(configure);
        return this;
    }

    /// <summary>Sets a configuration value on every silo ("Section:Key").</summary>
    public TestClusterBuilder AddConfiguration(string key, string? value)
    {
        Configuration[key] = value;
        return this;
    }

    /// <summary>Uses <paramref name="timeProvider"/> as grain time; membership and transport stay on real time.</summary>
    public TestClusterBuilder UseGrainTimeProvider(TimeProvider timeProvider)
    {
        GrainTimeProvider = timeProvider;
        return this;
    }

    /// <summary>Starts the silos and connects the client.</summary>
    public async Task<TestCluster> BuildAndStartAsync()
    {
        var cluster = new TestCluster(this);
        try
        {
            await cluster.DeployAsync().ConfigureAwait(false);
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return cluster;
    }
}
