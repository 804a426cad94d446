using System.Collections.Concurrent;
using Orleans.Runtime;
using OrleansSessions.Client;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>
/// Session events reach a client's subscription (an Orleans stream) from every silo, and again, on the same subscription,
/// once a killed silo has been declared dead. Between the kill and the declaration delivery is at most once: publishes
/// to a queue grain on the killed silo and deliveries routed through it fail (docs/architecture.md).
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class EventDeliveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_client_subscription_gets_every_event_once_before_one_of_three_silos_is_killed_and_after_it_is_declared_dead()
    {
        await using var cluster = await ProcessCluster.StartAsync("events", 3);
        var client = cluster.Client;
        var seen = new ConcurrentDictionary<string, int>();
        await using var events = await client.SubscribeToSessionEventsAsync(e =>
        {
            if (e.Type == SessionEventType.Created && e.Session.UserId.StartsWith(cluster.ClusterId, StringComparison.Ordinal))
            {
                seen.AddOrUpdate(e.Session.SessionId, 1, (_, n) => n + 1);
            }
            return Task.CompletedTask;
        });
        await Parallel.ForEachAsync(Enumerable.Range(0, 300), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
            await client.GetGrain<IUserSessionsGrain>($"{cluster.ClusterId}-u{i % 30}").CreateSessionAsync());
        await Wait.UntilAsync(() => Task.FromResult(seen.Count >= 300), TimeSpan.FromSeconds(30), () => $"300 created events before the kill (got {seen.Count})");
        output.WriteLine($"before the kill: {seen.Count} created events");
        Assert.Equal(300, seen.Count);
        // The victim: a silo other than the one whose memory holds the stream's queue grain, where there is one.
        var statistics = await client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var queuePorts = statistics
            .Where(s => s.GrainType.Contains("MemoryStreamQueueGrain", StringComparison.Ordinal))
            .Select(s => s.SiloAddress.Endpoint.Port)
            .ToHashSet();
        Assert.NotEmpty(queuePorts);
        var victim = cluster.Silos.LastOrDefault(s => !queuePorts.Contains(s.SiloPort)) ?? cluster.Silos[^1];
        output.WriteLine($"stream queue on silo port(s) {string.Join(", ", queuePorts)}; killing silo {victim.Index} (port {victim.SiloPort})");
        await victim.KillAsync();
        var t0 = DateTime.UtcNow;

        // Until the cluster declares the victim dead, calls routed to it fail, and so may the delivery of events that
        // Orleans routes through it (at most once: docs/architecture.md). Creates go on meanwhile; their events are
        // counted, not required.
        var during = await CreateAsync(client, $"{cluster.ClusterId}-v", 100);
        await cluster.WaitForActiveSilosAsync(2, TimeSpan.FromSeconds(30));
        output.WriteLine($"{during.Count} creates acknowledged until the victim was declared dead, {(DateTime.UtcNow - t0).TotalSeconds:F1} s after the kill");

        // Once it is: every event again, on the same subscription.
        var after = await CreateAsync(client, $"{cluster.ClusterId}-w", 300);
        Assert.Equal(300, after.Count);
        await Wait.UntilAsync(() => Task.FromResult(after.All(seen.ContainsKey)), TimeSpan.FromSeconds(30),
            () => $"the 300 created events after the death declaration (got {after.Count(seen.ContainsKey)})\n{string.Join('\n', cluster.Running.Select(s => s.Tail(20)))}");
        output.WriteLine($"after the declaration: all 300 events; of the {during.Count} before it, {during.Count(seen.ContainsKey)} arrived");
        Assert.All(seen.Values, count => Assert.Equal(1, count));
    }

    /// <summary>Creates sessions for users prefix0..prefix29 one at a time, retrying transient failures; returns the acknowledged ids.</summary>
    private static async Task<List<string>> CreateAsync(IClusterClient client, string userPrefix, int count)
    {
        var ids = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (ids.Count < count && DateTime.UtcNow < deadline)
        {
            try
            {
                ids.Add((await client.GetGrain<IUserSessionsGrain>($"{userPrefix}{ids.Count % 30}").CreateSessionAsync()).SessionId);
            }
            catch (Exception ex) when (Calls.IsTransient(ex))
            {
                // Calls to grains of the killed silo fail until it is declared dead.
                await Task.Delay(100);
            }
        }
        return ids;
    }
}
