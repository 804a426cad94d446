using OrleansSessions.TestingHost;

namespace OrleansSessions.Runtime.Tests;

public sealed class TimerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static Task<TestCluster> StartAsync(ManualTimeProvider time)
        => new TestClusterBuilder(1).ConfigureSilo(s => s.AddTestGrains()).UseGrainTimeProvider(time).BuildAndStartAsync();

    [Fact]
    public async Task A_timer_fires_at_its_due_time_and_then_every_period()
    {
        var time = new ManualTimeProvider();
        await using var cluster = await StartAsync(time);
        var grain = cluster.Client.GetGrain<ITimerGrain>("fire");
        await grain.StartAsync(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), keepAlive: false, callbackDelayMs: 0);
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(0, await grain.GetTicksAsync());
        time.Advance(TimeSpan.FromSeconds(1));
        await TestCluster.WaitUntilAsync(async () => await grain.GetTicksAsync() == 1, Deadline);
        time.Advance(TimeSpan.FromSeconds(5));
        await TestCluster.WaitUntilAsync(async () => await grain.GetTicksAsync() == 2, Deadline);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(2, await grain.GetTicksAsync());
    }

    [Fact]
    public async Task Change_moves_the_next_tick_and_Dispose_stops_it()
    {
        var time = new ManualTimeProvider();
        await using var cluster = await StartAsync(time);
        var grain = cluster.Client.GetGrain<ITimerGrain>("change");
        await grain.StartAsync(TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan, keepAlive: false, callbackDelayMs: 0);
        await grain.ChangeAsync(TimeSpan.FromSeconds(30), Timeout.InfiniteTimeSpan);
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(0, await grain.GetTicksAsync());
        time.Advance(TimeSpan.FromSeconds(10));
        await TestCluster.WaitUntilAsync(async () => await grain.GetTicksAsync() == 1, Deadline);
        await grain.ChangeAsync(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        await grain.StopAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await grain.GetTicksAsync());
    }

    [Fact]
    public async Task Ticks_do_not_overlap_when_the_callback_outlasts_the_period()
    {
        await using var cluster = await new TestClusterBuilder(1).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var grain = cluster.Client.GetGrain<ITimerGrain>("overlap");
        await grain.StartAsync(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10), keepAlive: false, callbackDelayMs: 50);
        await TestCluster.WaitUntilAsync(async () => await grain.GetTicksAsync() >= 5, Deadline);
        Assert.Equal(0, await grain.GetOverlapsAsync());
    }

    [Fact]
    public async Task Timers_stop_when_the_activation_deactivates()
    {
        var time = new ManualTimeProvider();
        await using var cluster = await StartAsync(time);
        var grain = cluster.Client.GetGrain<ITimerGrain>("deactivate");
        await grain.StartAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), keepAlive: false, callbackDelayMs: 0);
        await grain.DeactivateAsync();
        await TestCluster.WaitUntilAsync(() => !cluster.Primary.Handle.HasActivation<ITimerGrain>("deactivate"), Deadline);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(cluster.Primary.Handle.HasActivation<ITimerGrain>("deactivate"));
        // A new activation has no timer and no ticks.
        Assert.Equal(0, await grain.GetTicksAsync());
    }

    [Fact]
    public async Task A_deactivated_grain_with_a_far_timer_leaves_memory_at_once()
    {
        var time = new ManualTimeProvider();
        await using var cluster = await StartAsync(time);
        var grain = cluster.Client.GetGrain<ITimerGrain>("far-timer");
        await grain.StartAsync(TimeSpan.FromHours(5), Timeout.InfiniteTimeSpan, keepAlive: false, callbackDelayMs: 0);
        var activation = WeakActivation(cluster, "far-timer");
        await grain.DeactivateAsync();
        await TestCluster.WaitUntilAsync(() => !cluster.Primary.Handle.HasActivation<ITimerGrain>("far-timer"), Deadline);
        // The timer's heap entry stays until its due time, five hours away; it must not hold the activation.
        await TestCluster.WaitUntilAsync(() =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return !activation.IsAlive;
        }, Deadline, "the activation is collected");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference WeakActivation(TestCluster cluster, string key)
    {
        var catalog = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Catalog.GrainCatalog>(cluster.Primary.Services);
        return new WeakReference(catalog.Find(new GrainId(GrainInterfaceRegistry.GetInterfaceId<ITimerGrain>(), key)));
    }

    [Fact]
    public async Task A_keep_alive_timer_keeps_its_activation_from_idle_collection()
    {
        var time = new ManualTimeProvider();
        await using var cluster = await StartAsync(time);
        var kept = cluster.Client.GetGrain<ITimerGrain>("kept");
        var plain = cluster.Client.GetGrain<ITimerGrain>("plain");
        await kept.StartAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(1), keepAlive: true, callbackDelayMs: 0);
        await plain.StartAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(1), keepAlive: false, callbackDelayMs: 0);
        time.Advance(TimeSpan.FromMinutes(20));
        await cluster.Primary.Handle.CollectIdleActivationsAsync(TimeSpan.FromMinutes(15));
        Assert.True(cluster.Primary.Handle.HasActivation<ITimerGrain>("kept"));
        Assert.False(cluster.Primary.Handle.HasActivation<ITimerGrain>("plain"));
        // A forced collection ignores keep-alive timers.
        Assert.Equal(1, await cluster.ForceActivationCollectionAsync(TimeSpan.Zero));
        Assert.False(cluster.Primary.Handle.HasActivation<ITimerGrain>("kept"));
    }
}
