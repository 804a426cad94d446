using Microsoft.Extensions.Time.Testing;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>Ending many sessions at once: close-all, eviction waves and janitor sweeps keep the silo answering.</summary>
public sealed class BulkEndTests
{
    private const int Sessions = 2_000;

    [Fact]
    public async Task Close_all_of_thousands_of_sessions_ends_each_once_with_bounded_calls_in_flight_while_other_users_are_served()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string> { ["Sessions:HistoryLimit"] = "10" });
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("heavy");
        var ids = new List<string>(Sessions);
        for (var i = 0; i < Sessions; i++)
        {
            ids.Add((await user.CreateSessionAsync()).SessionId);
        }
        var metrics = SessionCluster.Metrics(cluster.Silos[0]);
        var endedBefore = metrics.Ended;

        var closeAll = user.CloseAllAsync();
        await Wait.UntilAsync(() => closeAll.IsCompleted || metrics.BulkCallsInFlight > 0);
        // Another user is served meanwhile.
        var other = cluster.Client.GetGrain<IUserSessionsGrain>("neighbour");
        var created = await other.CreateSessionAsync();
        Assert.Equal(SessionStatus.Active, (await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).TouchAsync()).Status);

        Assert.Equal(Sessions, await closeAll);
        Assert.InRange(metrics.BulkCallsInFlightPeak, 1, BoundedCalls.MaxInFlight);
        Assert.Equal(0, metrics.BulkCallsInFlight);
        Assert.Equal(Sessions, metrics.Ended - endedBefore);
        await Wait.UntilAsync(() => events.Count(SessionEventType.Closed) >= Sessions);
        Assert.Equal(Sessions, ids.Select(id => events.Of(id, SessionEventType.Closed).Count).Sum());
        Assert.All(ids, id => Assert.Single(events.Of(id, SessionEventType.Closed)));
        Assert.Empty(await user.GetActiveSessionsAsync());
        Assert.Equal(0, await user.CloseAllAsync());
    }

    [Fact]
    public async Task A_janitor_sweep_of_thousands_of_due_rows_keeps_its_calls_in_flight_bounded()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, index: index);
        var metrics = SessionCluster.Metrics(cluster.Silos[0]);
        // Rows of sessions that are gone (as after a crash between the index and the session write): each costs a call.
        // All in one partition: one janitor's sweep.
        for (var seeded = 0; seeded < Sessions;)
        {
            var sessionId = SessionKeys.NewSessionId();
            if (SessionDeadlinePartitioner.GetPartition(sessionId, 8) == 0)
            {
                await index.UpsertAsync(sessionId, "orphans", SessionCluster.Start, 0);
                seeded++;
            }
        }

        Assert.Equal(0, await SessionCluster.RunJanitorsAsync(cluster.Client));

        Assert.InRange(metrics.BulkCallsInFlightPeak, 1, BoundedCalls.MaxInFlight);
        Assert.Equal(0, metrics.BulkCallsInFlight);
    }
}
