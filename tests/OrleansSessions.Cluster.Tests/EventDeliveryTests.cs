using System.Collections.Concurrent;
using OrleansSessions.Client;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>Session events reach a client's subscription (an Orleans stream) from every silo, also after a silo is killed.</summary>
[Collection(ProcessCollection.Name)]
public sealed class EventDeliveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_client_subscription_gets_every_event_once_before_and_after_one_of_three_silos_is_killed()
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
        await cluster.Silos[1].KillAsync();
        var t0 = DateTime.UtcNow;
        var ok = 0;
        while (ok < 300 && DateTime.UtcNow < t0.AddSeconds(60))
        {
            try
            {
                await client.GetGrain<IUserSessionsGrain>($"{cluster.ClusterId}-v{ok % 30}").CreateSessionAsync();
                ok++;
            }
            catch (Exception ex) when (Calls.IsTransient(ex))
            {
                // Calls to grains of the killed silo fail until it is declared dead.
                await Task.Delay(100);
            }
        }
        output.WriteLine($"created after kill {ok} in {(DateTime.UtcNow - t0).TotalSeconds:F1}s");
        await Wait.UntilAsync(() => Task.FromResult(seen.Count >= 300 + ok), TimeSpan.FromSeconds(40), () => $"{300 + ok} created events (got {seen.Count})");
        output.WriteLine($"after kill seen {seen.Count} of {300 + ok}, at {(DateTime.UtcNow - t0).TotalSeconds:F1}s");
        Assert.Equal(300, ok);
        // A create that failed transiently may still have happened (and been published): at least every acknowledged one.
        Assert.True(seen.Count >= 600, $"{seen.Count} created events for 600 acknowledged creates");
        Assert.All(seen.Values, count => Assert.Equal(1, count));
    }
}
