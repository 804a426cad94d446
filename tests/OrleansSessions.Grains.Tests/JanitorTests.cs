using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

public sealed class JanitorTests
{
    private static readonly Dictionary<string, string> TenMinutes = new()
    {
        ["Sessions:IdleTimeout"] = "00:10:00",
        ["Sessions:WarningBefore"] = "00:00:00",
    };

    [Fact]
    public async Task Janitor_expires_a_session_whose_activation_was_collected()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes, index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("collected");
        var created = await user.CreateSessionAsync();
        Assert.Equal(1, index.Count);

        await SessionCluster.DeactivateAsync(cluster, cluster.Client.GetGrain<ISessionGrain>(created.SessionId));
        Assert.Equal(0, await SessionCluster.ActivationCountAsync<SessionGrain>(cluster));

        // No activation, so no timer: only the janitor can end it, by its sweep or by its partition's queue.
        time.Advance(TimeSpan.FromMinutes(11));
        Assert.InRange(await SessionCluster.RunJanitorsAsync(cluster.Client), 0, 1);
        await Wait.UntilAsync(async () => await SessionCluster.SessionRowsAsync(index) == 0);
        Assert.Equal(0, await SessionCluster.RunJanitorsAsync(cluster.Client));
        // The ended session leaves memory again.
        await Wait.UntilAsync(async () => await SessionCluster.ActivationCountAsync<SessionGrain>(cluster) == 0);

        var info = await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).GetAsync();
        Assert.Equal(SessionStatus.Expired, info.Status);
        Assert.Equal(EndReason.IdleTimeout, info.EndReason);
        Assert.Equal(created.ExpiresAt, info.EndedAt);
        var entry = Assert.Single(await user.GetHistoryAsync(10));
        Assert.Equal(created.SessionId, entry.SessionId);
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
    }

    [Fact]
    public async Task Janitor_leaves_a_session_touched_after_its_row_was_written_and_fixes_the_row()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes, index: index);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("touched").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);

        time.SetUtcNow(SessionCluster.Start.AddMinutes(9));
        await session.TouchAsync(); // deadline 14:19; the row still says 14:10
        await SessionCluster.DeactivateAsync(cluster, session);

        time.SetUtcNow(SessionCluster.Start.AddMinutes(12));
        Assert.Equal(0, await SessionCluster.RunJanitorsAsync(cluster.Client));
        Assert.True(await session.IsActiveAsync());
        var partition = SessionDeadlinePartitioner.GetPartition(created.SessionId, 8);
        var row = Assert.Single(await index.ReadDueAsync(partition, DateTimeOffset.MaxValue, 10));
        Assert.Equal(SessionCluster.Start.AddMinutes(19), row.Deadline);

        // Deactivated again and never touched: at 14:19 the janitor ends it, once.
        await SessionCluster.DeactivateAsync(cluster, session);
        time.SetUtcNow(SessionCluster.Start.AddMinutes(19));
        Assert.InRange(await SessionCluster.RunJanitorsAsync(cluster.Client), 0, 1);
        Assert.False(await session.IsActiveAsync());
        await Wait.UntilAsync(async () => (await session.GetAsync()).Status == SessionStatus.Expired);
        Assert.Equal(SessionCluster.Start.AddMinutes(19), (await session.GetAsync()).EndedAt);
    }

    [Fact]
    public async Task Janitor_racing_the_timers_ends_each_session_once()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes, index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("raced");
        var ids = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            ids.Add((await user.CreateSessionAsync()).SessionId);
        }

        // Timers fire for the live activations while the janitor sweeps the same sessions.
        time.Advance(TimeSpan.FromMinutes(10));
        var byJanitor = await SessionCluster.RunJanitorsAsync(cluster.Client);

        await Wait.UntilAsync(() => ids.All(id => events.Of(id, SessionEventType.Expired).Count >= 1));
        Assert.InRange(byJanitor, 0, ids.Count);
        Assert.All(ids, id => Assert.Single(events.Of(id, SessionEventType.Expired)));
        var history = await user.GetHistoryAsync(100);
        Assert.Equal(ids.Count, history.Count);
        Assert.Equal(ids.Count, history.Select(h => h.SessionId).Distinct().Count());
        Assert.Equal(0, await SessionCluster.RunJanitorsAsync(cluster.Client));
        await Wait.UntilAsync(async () => await SessionCluster.SessionRowsAsync(index) == 0);
    }

    [Fact]
    public async Task Janitor_expires_sessions_of_a_killed_silo_once_each()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes, silos: 3, index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var users = Enumerable.Range(0, 10).Select(i => $"user-{i}").ToList();
        var sessions = new List<SessionInfo>();
        foreach (var userId in users)
        {
            for (var i = 0; i < 3; i++)
            {
                sessions.Add(await cluster.Client.GetGrain<IUserSessionsGrain>(userId).CreateSessionAsync());
            }
        }

        // The victim is the silo hosting the most sessions (placement decides where they went).
        var stats = await cluster.Client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        var victim = cluster.Silos
            .OrderByDescending(silo => stats.Where(s => s.SiloAddress == silo.SiloAddress && s.GrainType.Contains(nameof(SessionGrain), StringComparison.Ordinal)).Sum(s => s.ActivationCount))
            .First();
        Assert.True(stats.Any(s => s.SiloAddress == victim.SiloAddress && s.GrainType.Contains(nameof(SessionGrain), StringComparison.Ordinal) && s.ActivationCount > 0),
            "The victim silo should host some of the sessions.");
        await cluster.KillSiloAsync(victim);
        // Calls to grains of the dead silo fail until the survivors declare it dead.
        await cluster.WaitForLivenessToStabilizeAsync(didKill: true);

        time.Advance(TimeSpan.FromMinutes(10));
        // The survivors' timers race the janitor (its sweep and its partitions' queues); sessions of the dead silo have no
        // timer left.
        var byJanitor = await SessionCluster.RunJanitorsAsync(cluster.Client);
        Assert.InRange(byJanitor, 0, sessions.Count);

        // Ended once each, by a survivor's timer or the janitor: the stored state says so. (The memory stream delivers at
        // most once while its queue moves off the killed silo, so events are checked for duplicates, not completeness.)
        foreach (var session in sessions)
        {
            await Wait.UntilAsync(async () => (await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).GetAsync()).Status != SessionStatus.Active);
            var info = await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).GetAsync();
            Assert.Equal(SessionStatus.Expired, info.Status);
            Assert.Equal(EndReason.IdleTimeout, info.EndReason);
        }
        Assert.All(sessions, s => Assert.InRange(events.Of(s.SessionId, SessionEventType.Expired).Count, 0, 1));
        foreach (var userId in users)
        {
            var history = await cluster.Client.GetGrain<IUserSessionsGrain>(userId).GetHistoryAsync(100);
            Assert.Equal(3, history.Count);
            Assert.Equal(3, history.Select(h => h.SessionId).Distinct().Count());
        }
        Assert.Equal(0, await SessionCluster.SessionRowsAsync(index));
    }

    [Fact]
    public async Task A_live_session_whose_end_was_stored_elsewhere_adopts_it_and_does_not_report_it_again()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("adopting").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        Assert.True(await session.IsActiveAsync());

        // Another writer stores the end behind the live activation's back (as a duplicate activation during a
        // membership change would): the ended state, compare-and-swapped on the ETag the activation also holds.
        var storage = cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(SessionStorage.Name);
        var grainId = GrainId.Create("session", created.SessionId);
        var stored = new GrainState<SessionState>();
        await storage.ReadStateAsync(SessionStorage.SessionStateName, grainId, stored);
        stored.State!.End(EndReason.IdleTimeout, time.GetUtcNow(), new OrleansSessions.Grains.Options.SessionOptions());
        await storage.WriteStateAsync(SessionStorage.SessionStateName, grainId, stored);

        // The live activation still believes in the session; its touch write loses and it adopts the stored end.
        await Assert.ThrowsAsync<SessionExpiredException>(() => session.TouchAsync().AsTask());
        var info = await session.GetAsync();
        Assert.Equal(SessionStatus.Expired, info.Status);
        Assert.Equal(created.ExpiresAt, info.EndedAt);
        // It reported nothing: the writer of the end did.
        Assert.Empty(events.Of(created.SessionId, SessionEventType.Expired));
    }

    [Fact]
    public async Task The_janitor_reminder_sweeps_on_its_own()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>(TenMinutes)
        {
            ["Janitor:Period"] = "00:00:01",
            ["Janitor:Partitions"] = "2",
        }, index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("reminded");
        var created = await user.CreateSessionAsync();
        await SessionCluster.DeactivateAsync(cluster, cluster.Client.GetGrain<ISessionGrain>(created.SessionId));

        // Nobody calls the janitor: its Orleans reminder (1 s, below Orleans' default 1 min minimum) sweeps.
        time.Advance(TimeSpan.FromMinutes(11));
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
        Assert.Equal(0, await SessionCluster.SessionRowsAsync(index, partitions: 2));
        var entry = Assert.Single(await user.GetHistoryAsync(10));
        Assert.Equal(EndReason.IdleTimeout, entry.EndReason);
        Assert.Equal(created.ExpiresAt, entry.EndedAt);
    }
}
