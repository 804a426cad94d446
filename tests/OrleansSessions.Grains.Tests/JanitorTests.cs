using OrleansSessions.Grains.Storage;
using OrleansSessions.Invocation;
using OrleansSessions.Serialization;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

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
        var time = new ManualTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes, index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("collected");
        var created = await user.CreateSessionAsync();
        Assert.Equal(1, index.Count);

        await cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        await SessionCluster.WaitUntilAsync(() => cluster.ActivationCountOf<ISessionGrain>() == 0);

        // No activation, so no timer: only the janitor can end it. A minute late is past Janitor:BulkAfter, so it
        // ends it in storage without activating the session or its user.
        time.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(1, await SessionCluster.RunJanitorsAsync(cluster.GrainFactory));
        Assert.Equal(0, index.Count);
        Assert.Equal(0, cluster.ActivationCountOf<ISessionGrain>());
        Assert.Equal(0, cluster.ActivationCountOf<IUserSessionsGrain>());
        Assert.Equal(0, await SessionCluster.RunJanitorsAsync(cluster.GrainFactory));

        var info = await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).GetAsync();
        Assert.Equal(SessionStatus.Expired, info.Status);
        Assert.Equal(EndReason.IdleTimeout, info.EndReason);
        Assert.Equal(created.ExpiresAt, info.EndedAt);
        var entry = Assert.Single(await user.GetHistoryAsync(10));
        Assert.Equal(created.SessionId, entry.SessionId);
        await SessionCluster.WaitUntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
    }

    [Fact]
    public async Task Janitor_leaves_a_session_touched_after_its_row_was_written_and_fixes_the_row()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes, index: index);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("touched").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);

        time.SetUtcNow(SessionCluster.Start.AddMinutes(9));
        await session.TouchAsync(); // deadline 14:19; the row still says 14:10
        await cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        await SessionCluster.WaitUntilAsync(() => cluster.ActivationCountOf<ISessionGrain>() == 0);

        time.SetUtcNow(SessionCluster.Start.AddMinutes(12));
        Assert.Equal(0, await SessionCluster.RunJanitorsAsync(cluster.GrainFactory));
        Assert.True(await session.IsActiveAsync());
        var partition = SessionDeadlinePartitioner.GetPartition(created.SessionId, 8);
        var row = Assert.Single(await index.ReadDueAsync(partition, DateTimeOffset.MaxValue, 10));
        Assert.Equal(SessionCluster.Start.AddMinutes(19), row.Deadline);

        // Collected again and never touched: at 14:19 the janitor ends it, once.
        await cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        await SessionCluster.WaitUntilAsync(() => cluster.ActivationCountOf<ISessionGrain>() == 0);
        time.SetUtcNow(SessionCluster.Start.AddMinutes(19));
        Assert.Equal(1, await SessionCluster.RunJanitorsAsync(cluster.GrainFactory));
        Assert.False(await session.IsActiveAsync());
        Assert.Equal(SessionCluster.Start.AddMinutes(19), (await session.GetAsync()).EndedAt);
    }

    [Fact]
    public async Task Janitor_racing_the_timers_ends_each_session_once()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
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
        var byJanitor = await SessionCluster.RunJanitorsAsync(cluster.GrainFactory);

        await SessionCluster.WaitUntilAsync(() => ids.All(id => events.Of(id, SessionEventType.Expired).Count >= 1));
        Assert.InRange(byJanitor, 0, ids.Count);
        Assert.All(ids, id => Assert.Single(events.Of(id, SessionEventType.Expired)));
        var history = await user.GetHistoryAsync(100);
        Assert.Equal(ids.Count, history.Count);
        Assert.Equal(ids.Count, history.Select(h => h.SessionId).Distinct().Count());
        Assert.Equal(0, await SessionCluster.RunJanitorsAsync(cluster.GrainFactory));
        await SessionCluster.WaitUntilAsync(() => index.Count == 0);
    }

    [Fact]
    public async Task Janitor_expires_sessions_of_a_killed_silo_once_each()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
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

        var victim = cluster.Silos[1];
        Assert.True(victim.ActivationCount > 0, "The victim silo should host some of the grains.");
        await cluster.KillSiloAsync(victim);
        // Calls to grains of the dead silo fail until the survivors declare it dead (about 4 s).
        await cluster.WaitForViewAsync();

        time.Advance(TimeSpan.FromMinutes(10));
        // The survivors' timers race the janitor; sessions of the dead silo have no timer left.
        var byJanitor = await SessionCluster.RunJanitorsAsync(cluster.GrainFactory);
        Assert.InRange(byJanitor, 1, sessions.Count);

        await SessionCluster.WaitUntilAsync(() => sessions.All(s => events.Of(s.SessionId, SessionEventType.Expired).Count >= 1));
        Assert.All(sessions, s => Assert.Single(events.Of(s.SessionId, SessionEventType.Expired)));
        foreach (var session in sessions)
        {
            var info = await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).GetAsync();
            Assert.Equal(SessionStatus.Expired, info.Status);
            Assert.Equal(EndReason.IdleTimeout, info.EndReason);
        }
        foreach (var userId in users)
        {
            var history = await cluster.Client.GetGrain<IUserSessionsGrain>(userId).GetHistoryAsync(100);
            Assert.Equal(3, history.Count);
            Assert.Equal(3, history.Select(h => h.SessionId).Distinct().Count());
        }
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public async Task Bulk_sweep_ends_orphans_in_storage_and_their_users_record_them_once()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes, index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var sessions = new List<SessionInfo>();
        for (var u = 0; u < 20; u++)
        {
            var user = cluster.Client.GetGrain<IUserSessionsGrain>($"bulk-{u}");
            for (var i = 0; i < 5; i++)
            {
                sessions.Add(await user.CreateSessionAsync());
            }
        }
        await cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        await SessionCluster.WaitUntilAsync(() => cluster.ActivationCountOf<ISessionGrain>() == 0 && cluster.ActivationCountOf<IUserSessionsGrain>() == 0);

        time.Advance(TimeSpan.FromMinutes(15));
        Assert.Equal(sessions.Count, await SessionCluster.RunJanitorsAsync(cluster.GrainFactory));
        Assert.Equal(0, cluster.ActivationCountOf<ISessionGrain>());
        Assert.Equal(0, index.Count);
        Assert.Equal(0, await SessionCluster.RunJanitorsAsync(cluster.GrainFactory));

        await SessionCluster.WaitUntilAsync(() => sessions.All(s => events.Of(s.SessionId, SessionEventType.Expired).Count >= 1));
        Assert.All(sessions, s => Assert.Single(events.Of(s.SessionId, SessionEventType.Expired)));
        foreach (var group in sessions.GroupBy(s => s.UserId))
        {
            var user = cluster.Client.GetGrain<IUserSessionsGrain>(group.Key);
            Assert.Empty(await user.GetActiveSessionsAsync());
            var history = await user.GetHistoryAsync(100);
            Assert.Equal(group.Select(s => s.SessionId).Order(), history.Select(h => h.SessionId).Order());
            Assert.All(history, h =>
            {
                Assert.Equal(SessionStatus.Expired, h.Status);
                Assert.Equal(EndReason.IdleTimeout, h.EndReason);
                Assert.Equal(h.ExpiresAt, h.EndedAt);
            });
        }
        foreach (var session in sessions)
        {
            var info = await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).GetAsync();
            Assert.Equal(SessionStatus.Expired, info.Status);
            Assert.Equal(session.ExpiresAt, info.EndedAt);
        }
    }

    [Fact]
    public async Task A_live_user_grain_whose_state_the_bulk_sweep_changed_merges_instead_of_failing()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes, index: index);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("merging");
        var orphan = await user.CreateSessionAsync();
        await cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        await SessionCluster.WaitUntilAsync(() => cluster.ActivationCountOf<ISessionGrain>() == 0 && cluster.ActivationCountOf<IUserSessionsGrain>() == 0);

        // The user grain comes back (holding the orphan as live) and creates a session; the orphan stays unloaded.
        time.Advance(TimeSpan.FromMinutes(11));
        var second = await user.CreateSessionAsync();
        Assert.Equal(1, cluster.ActivationCountOf<IUserSessionsGrain>());

        // The sweep records the orphan's end in the stored user state behind the live activation's back.
        Assert.Equal(1, await SessionCluster.RunJanitorsAsync(cluster.GrainFactory));
        Assert.Equal(1, cluster.ActivationCountOf<ISessionGrain>());

        // The activation's next write meets the newer version: it merges and succeeds.
        var third = await user.CreateSessionAsync();
        var active = await user.GetActiveSessionsAsync();
        Assert.Equal(new[] { second.SessionId, third.SessionId }.Order(), active.Select(a => a.SessionId).Order());
        var history = await user.GetHistoryAsync(10);
        var entry = Assert.Single(history);
        Assert.Equal(orphan.SessionId, entry.SessionId);
        Assert.Equal(third.SessionId, (await user.GetCurrentSessionAsync())!.SessionId);
    }

    [Fact]
    public async Task A_live_session_whose_end_was_stored_elsewhere_adopts_it_and_reports_it_expired()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("adopting").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        Assert.True(await session.IsActiveAsync());

        // What a bulk end writes: the ended state, compare-and-swapped on the ETag the activation also holds.
        var grainId = new GrainId(GrainInterfaceRegistry.GetInterfaceId<ISessionGrain>(), created.SessionId);
        var record = await cluster.Storage.ReadAsync(SessionGrain.StateName, grainId, default);
        var stored = CodecRegistry.Deserialize<SessionState>(record.Data);
        stored.Status = SessionStatus.Expired;
        stored.EndReason = EndReason.IdleTimeout;
        stored.EndedAt = stored.ExpiresAt;
        await cluster.Storage.WriteAsync(SessionGrain.StateName, grainId, CodecRegistry.Serialize(stored), record.ETag, default);

        // The live activation still believes in the session; its touch write loses and it adopts the stored end.
        await Assert.ThrowsAsync<SessionExpiredException>(() => session.TouchAsync().AsTask());
        var info = await session.GetAsync();
        Assert.Equal(SessionStatus.Expired, info.Status);
        Assert.Equal(created.ExpiresAt, info.EndedAt);
        // It reported nothing: the writer of the end did.
        Assert.Empty(events.Of(created.SessionId, SessionEventType.Expired));
    }

    [Fact]
    public async Task Bulk_sweep_racing_live_activations_ends_each_session_once()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, TenMinutes, silos: 2, index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var sessions = new List<SessionInfo>();
        for (var u = 0; u < 10; u++)
        {
            for (var i = 0; i < 10; i++)
            {
                sessions.Add(await cluster.Client.GetGrain<IUserSessionsGrain>($"race-{u}").CreateSessionAsync());
            }
        }
        // Every activation is collected, then half come back with their timers, which fire as the clock jumps
        // past Janitor:BulkAfter while the sweep runs; the other half are orphans.
        await cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        await SessionCluster.WaitUntilAsync(() => cluster.ActivationCountOf<ISessionGrain>() == 0);
        foreach (var session in sessions.Take(50))
        {
            Assert.True(await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).IsActiveAsync());
        }
        var sweep = Task.Run(async () =>
        {
            var total = 0;
            for (var i = 0; i < 5; i++)
            {
                total += await SessionCluster.RunJanitorsAsync(cluster.GrainFactory);
            }
            return total;
        });
        time.Advance(TimeSpan.FromMinutes(12));
        var byJanitor = await sweep;
        byJanitor += await SessionCluster.RunJanitorsAsync(cluster.GrainFactory);

        await SessionCluster.WaitUntilAsync(() => sessions.All(s => events.Of(s.SessionId, SessionEventType.Expired).Count >= 1));
        Assert.InRange(byJanitor, 0, sessions.Count);
        Assert.All(sessions, s => Assert.Single(events.Of(s.SessionId, SessionEventType.Expired)));
        foreach (var group in sessions.GroupBy(s => s.UserId))
        {
            var history = await cluster.Client.GetGrain<IUserSessionsGrain>(group.Key).GetHistoryAsync(100);
            Assert.Equal(group.Select(s => s.SessionId).Order(), history.Select(h => h.SessionId).Order());
        }
        await SessionCluster.WaitUntilAsync(() => index.Count == 0);
    }
}
