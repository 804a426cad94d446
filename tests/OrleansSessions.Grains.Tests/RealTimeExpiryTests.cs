using System.Collections.Concurrent;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

public sealed class RealTimeExpiryTests
{
    [Fact]
    public async Task Three_silos_on_real_time_expire_a_thousand_sessions_within_a_second_of_their_deadlines_once_each()
    {
        await using var cluster = await SessionCluster.StartAsync(TimeProvider.System, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:00:02",
            ["Sessions:WarningBefore"] = "00:00:01",
        }, silos: 3);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        IEnumerable<SessionEvent> expired() => events.All.Where(e => e.Type == SessionEventType.Expired);

        var users = Enumerable.Range(0, 100).Select(i => $"realtime-{i}").ToArray();
        var created = new ConcurrentBag<SessionInfo>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 1000), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
            created.Add(await cluster.Client.GetGrain<IUserSessionsGrain>(users[i % 100]).CreateSessionAsync()));

        await Wait.UntilAsync(() => expired().Count() >= 1000);

        var byId = expired().GroupBy(e => e.Session.SessionId).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(1000, byId.Count);
        Assert.All(byId.Values, events => Assert.Single(events));
        foreach (var evt in expired())
        {
            var lag = evt.At - evt.Session.ExpiresAt;
            Assert.True(lag >= TimeSpan.Zero && lag <= TimeSpan.FromSeconds(1), $"{evt.Session.SessionId} expired {lag.TotalMilliseconds} ms after its deadline");
            Assert.Equal(EndReason.IdleTimeout, evt.Session.EndReason);
        }

        var history = new List<SessionInfo>();
        foreach (var user in users)
        {
            history.AddRange(await cluster.Client.GetGrain<IUserSessionsGrain>(user).GetHistoryAsync(100));
        }
        Assert.Equal(1000, history.Count);
        Assert.Equal(created.Select(c => c.SessionId).Order(), history.Select(h => h.SessionId).Order());
        await Wait.UntilAsync(async () => await SessionCluster.ActivationCountAsync<SessionGrain>(cluster) == 0);
    }
}
