using OrleansSessions.Sessions;
using Microsoft.Extensions.Time.Testing;

namespace OrleansSessions.Grains.Tests;

public sealed class BoundedMemoryTests
{
    [Fact]
    public async Task After_ten_thousand_sessions_end_no_session_activation_remains()
    {
        const int Users = 10;
        const int SessionsPerUser = 1_000;
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:01:00",
            ["Sessions:WarningBefore"] = "00:00:00",
        }, silos: 2);

        var creators = Enumerable.Range(0, Users).Select(u => Task.Run(async () =>
        {
            var user = cluster.Client.GetGrain<IUserSessionsGrain>($"load-{u}");
            for (var i = 0; i < SessionsPerUser; i++)
            {
                await user.CreateSessionAsync();
            }
        }));
        await Task.WhenAll(creators);
        Assert.Equal(Users * SessionsPerUser, cluster.Silos.Sum(s => SessionCluster.Metrics(s).Created));

        time.Advance(TimeSpan.FromMinutes(2));

        // Sessions end by their own timers. A live activation can also be moved off its silo (a ring change
        // deactivates it) and lose its timer; the janitor (here run by hand instead of its reminder) ends those.
        await Wait.UntilAsync(async () =>
        {
            if (cluster.Silos.Sum(s => SessionCluster.Metrics(s).Ended) < Users * SessionsPerUser)
            {
                await SessionCluster.RunJanitorsAsync(cluster.Client);
                return false;
            }
            return true;
        });
        Assert.Equal(Users * SessionsPerUser, cluster.Silos.Sum(s => SessionCluster.Metrics(s).Ended));
        for (var u = 0; u < Users; u++)
        {
            var user = cluster.Client.GetGrain<IUserSessionsGrain>($"load-{u}");
            Assert.Empty(await user.GetActiveSessionsAsync());
            // Each end is recorded once; the history keeps the newest 100 (the others are forgotten).
            Assert.Equal(100, (await user.GetHistoryAsync(SessionsPerUser)).Count);
        }

        // Ended sessions deactivate; those trimmed out of history wake once more to forget their state, then
        // deactivate again. Only the user grains stay.
        await Wait.UntilAsync(async () => await SessionCluster.ActivationCountAsync<SessionGrain>(cluster) == 0);
        Assert.Equal(0, cluster.Silos.Sum(s => SessionCluster.Metrics(s).ActiveSessionActivations));
        Assert.Equal(Users, await SessionCluster.ActivationCountAsync<UserSessionsGrain>(cluster));
    }
}
