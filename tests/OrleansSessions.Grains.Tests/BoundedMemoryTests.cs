using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Grains.Tests;

public sealed class BoundedMemoryTests
{
    [Fact]
    public async Task After_ten_thousand_sessions_end_no_session_activation_remains()
    {
        const int Users = 10;
        const int SessionsPerUser = 1_000;
        var time = new ManualTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:01:00",
            ["Sessions:WarningBefore"] = "00:00:00",
            ["Sessions:HistoryLimit"] = "1000",
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
        Assert.Equal(Users * SessionsPerUser, LiveSessionActivations(cluster));

        time.Advance(TimeSpan.FromMinutes(2));

        // Every session ends by its own timer and deactivates; only the user grains stay.
        await SessionCluster.WaitUntilAsync(() => LiveSessionActivations(cluster) == 0 && cluster.Silos.Sum(s => s.ActivationCount) <= Users);
        Assert.Equal(Users * SessionsPerUser, cluster.Silos.Sum(s => s.Services.GetRequiredService<SessionMetrics>().Ended));
        for (var u = 0; u < Users; u++)
        {
            var user = cluster.Client.GetGrain<IUserSessionsGrain>($"load-{u}");
            Assert.Empty(await user.GetActiveSessionsAsync());
            Assert.Equal(SessionsPerUser, (await user.GetHistoryAsync(SessionsPerUser)).Count);
        }
    }

    private static long LiveSessionActivations(TestCluster cluster)
        => cluster.Silos.Sum(s => s.Services.GetRequiredService<SessionMetrics>().ActiveSessionActivations);
}
