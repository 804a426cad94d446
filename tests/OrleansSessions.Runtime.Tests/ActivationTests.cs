using OrleansSessions.Runtime.Hosting;
using OrleansSessions.TestingHost;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansSessions.Runtime.Tests;

public sealed class ActivationTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Concurrent_first_calls_through_several_silos_create_one_activation()
    {
        await using var cluster = await new TestClusterBuilder(3).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var factories = cluster.Silos.Select(s => s.Services.GetRequiredService<IGrainFactory>()).Append(cluster.GrainFactory).ToList();
        for (var round = 0; round < 20; round++)
        {
            var key = $"single-{round}";
            var calls = Enumerable.Range(0, 40).Select(i => factories[i % factories.Count].GetGrain<ICounterGrain>(key).GetActivationNumberAsync());
            var numbers = await Task.WhenAll(calls);
            Assert.Single(numbers.Distinct());
            Assert.Equal(1, cluster.Silos.Count(s => s.Handle.HasActivation<ICounterGrain>(key)));
        }
    }

    [Fact]
    public async Task Turns_never_overlap_under_concurrent_calls()
    {
        await using var cluster = await new TestClusterBuilder(2).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var grain = cluster.Client.GetGrain<IConcurrencyGrain>("turns");
        var hosted = cluster.Silos[1].Services.GetRequiredService<IGrainFactory>().GetGrain<IConcurrencyGrain>("turns");
        await Task.WhenAll(Enumerable.Range(0, 60).Select(i => (i % 2 == 0 ? grain : hosted).WorkAsync(i % 3)));
        Assert.Equal(0, await grain.GetViolationsAsync());
        Assert.Equal(60, await grain.GetCallsAsync());
    }

    [Fact]
    public async Task Calls_from_one_caller_run_in_order()
    {
        // Fresh grains on 3 silos: the first calls race the activation and, for grains owned by another silo than
        // the gateway, the opening of the silo-to-silo connection; order must hold through both.
        await using var cluster = await new TestClusterBuilder(3).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        for (var round = 0; round < 6; round++)
        {
            var grain = cluster.Client.GetGrain<IConcurrencyGrain>($"fifo-{round}");
            var calls = new List<Task>();
            for (var i = 0; i < 200; i++)
            {
                calls.Add(grain.RecordAsync(i));
            }
            await Task.WhenAll(calls);
            Assert.Equal(Enumerable.Range(0, 200), await grain.GetOrderAsync());
        }
    }

    [Fact]
    public async Task A_call_cycle_between_grains_completes()
    {
        await using var cluster = await new TestClusterBuilder(2).ConfigureSilo(s => s.AddTestGrains())
            .AddConfiguration("Messaging:ResponseTimeout", "00:00:05").BuildAndStartAsync();
        var result = await cluster.Client.GetGrain<ICycleGrain>("cycle-a").CallThroughAsync("cycle-b").WaitAsync(Deadline);
        Assert.Equal("via cycle-b: pong from cycle-a", result);
    }

    [Fact]
    public async Task Exceptions_reach_the_caller_with_type_and_message()
    {
        await using var cluster = await new TestClusterBuilder(2).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var grain = cluster.Client.GetGrain<IFaultyGrain>("faulty");
        var invalid = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.ThrowInvalidOperationAsync("bad state"));
        Assert.Equal("bad state", invalid.Message);
        var custom = await Assert.ThrowsAsync<CustomGrainException>(() => grain.ThrowCustomAsync("custom failure"));
        Assert.Equal("custom failure", custom.Message);
        var hosted = cluster.Primary.Services.GetRequiredService<IGrainFactory>().GetGrain<IFaultyGrain>("faulty");
        await Assert.ThrowsAsync<CustomGrainException>(() => hosted.ThrowCustomAsync("again"));
        Assert.Equal(5, await grain.EchoLengthAsync("hello"));
    }

    [Fact]
    public async Task A_call_without_response_times_out_with_a_typed_exception()
    {
        await using var cluster = await new TestClusterBuilder(1).ConfigureSilo(s => s.AddTestGrains())
            .AddConfiguration("Messaging:ResponseTimeout", "00:00:01")
            .ConfigureClient(o => o.Messaging.ResponseTimeout = TimeSpan.FromSeconds(1))
            .BuildAndStartAsync();
        var grain = cluster.Client.GetGrain<IFaultyGrain>("hang");
        await Assert.ThrowsAsync<GrainCallTimeoutException>(() => grain.HangAsync().WaitAsync(Deadline));
        // The hung turn blocks the activation, but the silo keeps serving other grains.
        Assert.Equal(3, await cluster.Client.GetGrain<IFaultyGrain>("other").EchoLengthAsync("abc"));
    }

    [Fact]
    public async Task Idle_activations_are_collected_and_busy_ones_are_not()
    {
        var time = new ManualTimeProvider();
        await using var cluster = await new TestClusterBuilder(1).ConfigureSilo(s => s.AddTestGrains())
            .UseGrainTimeProvider(time)
            .AddConfiguration("GrainCollection:CollectionAge", "00:15:00")
            .BuildAndStartAsync();
        var idle = cluster.Client.GetGrain<ICounterGrain>("idle");
        var busy = cluster.Client.GetGrain<ICounterGrain>("busy");
        await idle.IncrementAsync();
        await busy.IncrementAsync();
        time.Advance(TimeSpan.FromMinutes(10));
        await busy.IncrementAsync();
        time.Advance(TimeSpan.FromMinutes(6));
        var collected = await cluster.Primary.Handle.CollectIdleActivationsAsync(TimeSpan.FromMinutes(15));
        Assert.Equal(1, collected);
        Assert.False(cluster.Primary.Handle.HasActivation<ICounterGrain>("idle"));
        Assert.True(cluster.Primary.Handle.HasActivation<ICounterGrain>("busy"));
        Assert.True(Observations.Deactivations.ContainsKey("idle"));
        // A collected grain comes back on the next call, with fresh in-memory state.
        Assert.Equal(1, await idle.IncrementAsync());
    }

    [Fact]
    public async Task Grains_spread_over_silos_and_answer_again_after_a_silo_is_killed()
    {
        await using var cluster = await new TestClusterBuilder(3).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var keys = Enumerable.Range(0, 10_000).Select(i => $"spread-{i}").ToArray();
        var silos = new Dictionary<string, string>();
        foreach (var chunk in keys.Chunk(500))
        {
            var answers = await Task.WhenAll(chunk.Select(k => cluster.Client.GetGrain<ICounterGrain>(k).GetSiloAsync()));
            for (var i = 0; i < chunk.Length; i++)
            {
                silos[chunk[i]] = answers[i];
            }
        }
        var perSilo = silos.Values.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, perSilo.Count);
        Assert.All(perSilo.Values, count => Assert.InRange(count, 1500, 5500));
        Assert.Equal(10_000, cluster.ActivationCountOf<ICounterGrain>());

        var victim = cluster.Silos.First(s => s.GatewayPort != GatewayOf(cluster));
        var victimAddress = victim.Address.ToString();
        await cluster.KillSiloAsync(victim);
        await cluster.WaitForViewAsync();

        var moved = keys.Where(k => silos[k] == victimAddress).ToArray();
        Assert.NotEmpty(moved);
        foreach (var chunk in keys.Chunk(500))
        {
            var answers = await Task.WhenAll(chunk.Select(k => cluster.Client.GetGrain<ICounterGrain>(k).GetSiloAsync()));
            for (var i = 0; i < chunk.Length; i++)
            {
                Assert.NotEqual(victimAddress, answers[i]);
                if (silos[chunk[i]] != victimAddress)
                {
                    Assert.Equal(silos[chunk[i]], answers[i]);
                }
            }
        }
    }

    private static int GatewayOf(TestCluster cluster)
    {
        var client = (OrleansSessions.Client.ClusterClient)cluster.Client;
        var gateway = client.ConnectedGateway ?? throw new InvalidOperationException("client not connected");
        return int.Parse(gateway[(gateway.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
