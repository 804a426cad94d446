using OrleansSessions.Storage;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Runtime.Tests;

public sealed class StateTests
{
    [Fact]
    public async Task State_survives_deactivation_and_a_graceful_silo_stop()
    {
        await using var cluster = await new TestClusterBuilder(2).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var keys = Enumerable.Range(0, 50).Select(i => $"state-{i}").ToArray();
        await Task.WhenAll(keys.Select(k => cluster.Client.GetGrain<IStatefulGrain>(k).SetAsync("value of " + k)));
        await cluster.CollectIdleActivationsAsync(TimeSpan.Zero);
        foreach (var key in keys)
        {
            Assert.Equal("value of " + key, await cluster.Client.GetGrain<IStatefulGrain>(key).GetAsync());
        }
        var extra = await cluster.StartAdditionalSiloAsync();
        await cluster.StopSiloAsync(cluster.Silos[1]);
        foreach (var key in keys)
        {
            Assert.Equal("value of " + key, await cluster.Client.GetGrain<IStatefulGrain>(key).GetAsync());
        }
        Assert.True(extra.IsActive);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_throws_the_typed_conflict()
    {
        await using var cluster = await new TestClusterBuilder(1).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var grain = cluster.Client.GetGrain<IStatefulGrain>("conflict");
        await grain.SetAsync("first");
        var id = new GrainId(GrainInterfaceRegistry.GetInterfaceId<IStatefulGrain>(), "conflict");
        var stored = await cluster.Storage.ReadAsync("stateful", id, CancellationToken.None);
        // Another writer (a duplicate activation) gets there first.
        await cluster.Storage.WriteAsync("stateful", id, stored.Data!, stored.ETag, CancellationToken.None);
        await Assert.ThrowsAsync<InconsistentStateException>(() => grain.SetAsync("second"));
        // The stale activation deactivated itself; the next call reads the newer state and can write again.
        await TestCluster.WaitUntilAsync(() => !cluster.Primary.Handle.HasActivation<IStatefulGrain>("conflict"), TimeSpan.FromSeconds(10));
        await grain.SetAsync("third");
        Assert.Equal("third", await grain.GetAsync());
    }
}
