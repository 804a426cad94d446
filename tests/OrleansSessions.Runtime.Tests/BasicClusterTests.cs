using OrleansSessions.TestingHost;

namespace OrleansSessions.Runtime.Tests;

public sealed class BasicClusterTests
{
    [Fact]
    public async Task Client_calls_reach_a_grain_and_keep_its_state()
    {
        await using var cluster = await new TestClusterBuilder(2).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var grain = cluster.Client.GetGrain<ICounterGrain>("basic-1");
        Assert.Equal(1, await grain.IncrementAsync());
        Assert.Equal(2, await grain.IncrementAsync());
        Assert.Equal(2, await grain.GetAsync());
    }
}
