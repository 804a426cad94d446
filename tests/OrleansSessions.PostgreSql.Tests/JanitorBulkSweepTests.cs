using Npgsql;
using OrleansSessions.Grains;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class JanitorBulkSweepTests(PostgreSqlFixture fixture)
{
    [Fact]
    public async Task Orphaned_sessions_are_ended_in_bulk_and_recorded_in_their_users_state_in_PostgreSQL()
    {
        var clusterId = PostgreSqlFixture.UniqueName("janitor");
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 1, 1, 14, 0, 0, TimeSpan.Zero));
        await using var cluster = await new TestClusterBuilder(1)
            .UseGrainTimeProvider(clock)
            .AddConfiguration("Sessions:IdleTimeout", "00:10:00")
            .ConfigureSilo(s => s.AddSessionGrains().UsePostgreSql(fixture.ConnectionString, clusterId))
            .BuildAndStartAsync();
        const int users = 40;
        var sessions = new List<SessionInfo>();
        for (var u = 0; u < users; u++)
        {
            var user = cluster.GrainFactory.GetGrain<IUserSessionsGrain>($"{clusterId}-u{u}");
            sessions.Add(await user.CreateSessionAsync());
            sessions.Add(await user.CreateSessionAsync());
        }
        // As after a crash: no activation holds them, so no timer will end them.
        await cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        await TestCluster.WaitUntilAsync(() => Task.FromResult(cluster.ActivationCountOf<ISessionGrain>() == 0 && cluster.ActivationCountOf<IUserSessionsGrain>() == 0), TimeSpan.FromSeconds(30));

        clock.Advance(TimeSpan.FromMinutes(20));
        Assert.Equal(sessions.Count, await JanitorStartup.RunJanitorsAsync(cluster.GrainFactory, 8));
        Assert.Equal(0, cluster.ActivationCountOf<ISessionGrain>());
        Assert.Equal(0, cluster.ActivationCountOf<IUserSessionsGrain>());

        await using var data = NpgsqlDataSource.Create(fixture.ConnectionString);
        await using (var rows = data.CreateCommand("SELECT count(*) FROM session_deadlines WHERE cluster_id = $1"))
        {
            rows.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clusterId });
            Assert.Equal(0L, (long)(await rows.ExecuteScalarAsync())!);
        }

        // Fresh activations read what the sweep stored.
        foreach (var group in sessions.GroupBy(s => s.UserId))
        {
            var user = cluster.GrainFactory.GetGrain<IUserSessionsGrain>(group.Key);
            var history = await user.GetHistoryAsync(10);
            Assert.Equal(group.Select(s => s.SessionId).Order(), history.Select(h => h.SessionId).Order());
            Assert.Empty(await user.GetActiveSessionsAsync());
        }
        foreach (var session in sessions)
        {
            var info = await cluster.GrainFactory.GetGrain<ISessionGrain>(session.SessionId).GetAsync();
            Assert.Equal(SessionStatus.Expired, info.Status);
            Assert.Equal(session.ExpiresAt, info.EndedAt);
        }
        Assert.Equal(0, await JanitorStartup.RunJanitorsAsync(cluster.GrainFactory, 8));
    }
}
