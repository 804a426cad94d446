using OrleansSessions.TestingHost;

namespace OrleansSessions.Silo.Tests;

/// <summary>Two silos with default session options, serving the API and the dashboard.</summary>
public sealed class TwoSiloApiFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await ApiCluster.StartAsync(2);
        Http = ApiCluster.Http(Cluster.Silos[0]);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Cluster.DisposeAsync();
    }
}

/// <summary>One silo on a manual grain clock, with Sessions:MaxPerUser=1 and OverLimit=Reject.</summary>
public sealed class ManualClockApiFixture : IAsyncLifetime
{
    public ManualTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 1, 1, 14, 0, 0, TimeSpan.Zero));

    public TestCluster Cluster { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await ApiCluster.StartAsync(1, b => b
            .UseGrainTimeProvider(Clock)
            .AddConfiguration("Sessions:MaxPerUser", "1")
            .AddConfiguration("Sessions:OverLimit", "Reject"));
        Http = ApiCluster.Http(Cluster.Silos[0]);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Cluster.DisposeAsync();
    }
}
