using OrleansSessions.TestingHost;

namespace OrleansSessions.Runtime.Tests;

public sealed class ReminderTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_reminder_ticks_after_its_grain_was_deactivated()
    {
        await using var cluster = await new TestClusterBuilder(1).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var key = "reminder-deactivated-" + Guid.NewGuid().ToString("N");
        var grain = cluster.Client.GetGrain<IReminderTestGrain>(key);
        await grain.StartAsync(TimeSpan.FromMilliseconds(200));
        await cluster.CollectIdleActivationsAsync(TimeSpan.Zero);
        await TestCluster.WaitUntilAsync(() => Observations.ReminderTicks.GetValueOrDefault(key) >= 3, Deadline);
        await grain.StopAsync();
        Assert.False(await grain.HasReminderAsync());
    }

    [Fact]
    public async Task A_reminder_period_below_the_minimum_is_rejected()
    {
        await using var cluster = await new TestClusterBuilder(1).ConfigureSilo(s => s.AddTestGrains())
            .AddConfiguration("Reminders:MinimumReminderPeriod", "00:01:00").BuildAndStartAsync();
        var grain = cluster.Client.GetGrain<IReminderTestGrain>("too-fast");
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.StartAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task A_reminder_keeps_ticking_on_a_survivor_after_its_owner_is_killed()
    {
        await using var cluster = await new TestClusterBuilder(3).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var client = (OrleansSessions.Client.ClusterClient)cluster.Client;
        // Find a grain whose reminder is owned by a silo other than the client's gateway.
        string key;
        TestSilo owner;
        var attempt = 0;
        while (true)
        {
            key = $"reminder-kill-{attempt++}-{Guid.NewGuid():N}";
            var silo = await cluster.Client.GetGrain<IReminderTestGrain>(key).GetSiloAsync();
            owner = cluster.Silos.Single(s => s.Address.ToString() == silo);
            if (!client.ConnectedGateway!.EndsWith(":" + owner.GatewayPort, StringComparison.Ordinal))
            {
                break;
            }
        }
        var grain = cluster.Client.GetGrain<IReminderTestGrain>(key);
        await grain.StartAsync(TimeSpan.FromMilliseconds(200));
        await TestCluster.WaitUntilAsync(() => Observations.ReminderTicks.GetValueOrDefault(key) >= 2, Deadline);
        Assert.Contains(owner.Address.ToString(), Observations.ReminderSilos[key]);

        await cluster.KillSiloAsync(owner);
        var ticksAtKill = Observations.ReminderTicks.GetValueOrDefault(key);
        await TestCluster.WaitUntilAsync(() => Observations.ReminderTicks.GetValueOrDefault(key) >= ticksAtKill + 3, Deadline, "reminder ticks on a survivor");
        var survivors = cluster.Silos.Where(s => s.IsActive).Select(s => s.Address.ToString()).ToHashSet();
        Assert.Contains(Observations.ReminderSilos[key], survivors.Contains);
    }
}
