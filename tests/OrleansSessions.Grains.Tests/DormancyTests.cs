using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// Dormant sessions (Sessions:DormantAfter): an idle live session gives up its activation and stays live; its janitor
/// partition's queue wakes it at its warning point and deadline. Grain time is a fake clock; idle collection runs on
/// real time, so the tests force it (IManagementGrain.ForceActivationCollection, Orleans' own idle collection) or wait
/// for it with a deadline.
/// </summary>
public sealed class DormancyTests
{
    private static Dictionary<string, string> Config(string warning = "00:02:00", string janitorPeriod = "01:00:00") => new()
    {
        ["Sessions:IdleTimeout"] = "00:10:00",
        ["Sessions:WarningBefore"] = warning,
        // The sweep stays out of the way (its reminder runs on real time): only the queue ends sessions here.
        ["Janitor:Period"] = janitorPeriod,
    };

    [Fact]
    public async Task An_idle_session_goes_dormant_on_its_own_and_answers_exactly_from_storage()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        var config = Config();
        config["Sessions:DormantAfter"] = "00:00:02";
        await using var cluster = await SessionCluster.StartAsync(time, config, index: index);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("dormant").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);

        // Orleans' idle collection (collection age Sessions:DormantAfter) takes it, on real time.
        await Wait.UntilAsync(async () => await SessionCluster.ActivationCountAsync<SessionGrain>(cluster) == 0, what: "dormant");
        Assert.True(SessionCluster.Metrics(cluster.Silos[0]).Dormant >= 1);
        var row = Assert.Single(await index.ReadDueAsync(SessionDeadlinePartitioner.GetPartition(created.SessionId, 8), DateTimeOffset.MaxValue, 10));
        Assert.Equal(created.ExpiresAt, row.Deadline);

        // Still live, exactly as before.
        Assert.True(await session.IsActiveAsync());
        var read = await session.GetAsync();
        Assert.Equal(SessionStatus.Active, read.Status);
        Assert.Equal(created.ExpiresAt, read.ExpiresAt);
        Assert.Equal(created.LastActivity, read.LastActivity);
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.False(await session.IsActiveAsync());
    }

    [Fact]
    public async Task A_dormant_session_keeps_its_data_and_its_data_writes_are_activity()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Config(warning: "00:00:00"));
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("data").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        await session.UpdateAttributesAsync(new Dictionary<string, string?> { ["lang"] = "\"es\"" });
        await session.AppendMessagesAsync([new NewSessionMessage(MessageRoles.User, "hola"), new NewSessionMessage(MessageRoles.Assistant, "buenas")]);
        await MakeDormantAsync(cluster);

        // Read back from storage by a new activation: the same data and version; reads are not activity.
        var conversation = await session.GetMessagesAsync();
        Assert.Equal(["hola", "buenas"], conversation.Messages.Select(m => m.Content).ToArray());
        var attributes = await session.GetAttributesAsync();
        Assert.Equal("\"es\"", attributes.Attributes["lang"]);
        Assert.Equal(conversation.DataVersion, attributes.DataVersion);
        Assert.Equal(created.ExpiresAt, (await session.GetAsync()).ExpiresAt);
        await MakeDormantAsync(cluster);

        // An append to a dormant session slides its deadline and is stored with it.
        time.Advance(TimeSpan.FromMinutes(5));
        var appended = await session.AppendMessagesAsync([new NewSessionMessage(MessageRoles.User, "sigo aqui")]);
        Assert.Equal(SessionCluster.Start.AddMinutes(15), appended.Session.ExpiresAt);
        await MakeDormantAsync(cluster);
        Assert.Equal(3, (await session.GetMessagesAsync()).Messages.Count);
        time.SetUtcNow(SessionCluster.Start.AddMinutes(10));
        Assert.True(await session.IsActiveAsync());
    }

    [Fact]
    public async Task A_dormant_session_is_warned_by_its_partition_then_ends_on_its_own_timer_once()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, Config(), index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("warned");
        var created = await user.CreateSessionAsync();
        await MakeDormantAsync(cluster);

        // The warning point (14:08): the partition wakes it; it warns and stays activated until its deadline.
        time.SetUtcNow(created.ExpiresAt - TimeSpan.FromMinutes(2));
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expiring).Count == 1);
        Assert.Equal(1, await SessionCluster.ActivationCountAsync<SessionGrain>(cluster));

        time.SetUtcNow(created.ExpiresAt);
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
        var info = await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).GetAsync();
        Assert.Equal(SessionStatus.Expired, info.Status);
        Assert.Equal(created.ExpiresAt, info.EndedAt);
        Assert.Equal(created.SessionId, Assert.Single(await user.GetHistoryAsync(10)).SessionId);
        Assert.Equal(0, await SessionCluster.SessionRowsAsync(index));
        Assert.Single(events.Of(created.SessionId, SessionEventType.Expiring));
    }

    [Fact]
    public async Task Without_warnings_the_partition_ends_a_dormant_session_at_its_deadline()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, Config(warning: "00:00:00"), index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("unwarned").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        await MakeDormantAsync(cluster);

        // One tick before the deadline nothing happens; at the deadline the partition ends it.
        time.SetUtcNow(created.ExpiresAt - TimeSpan.FromTicks(1));
        Assert.Equal(0, await SessionCluster.ActivationCountAsync<SessionGrain>(cluster));
        time.SetUtcNow(created.ExpiresAt);
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
        var info = await session.GetAsync();
        Assert.Equal(SessionStatus.Expired, info.Status);
        Assert.Equal(EndReason.IdleTimeout, info.EndReason);
        Assert.Equal(created.ExpiresAt, info.EndedAt);
        Assert.Equal(0, await SessionCluster.SessionRowsAsync(index));
    }

    [Fact]
    public async Task A_session_touched_after_going_dormant_lives_to_its_new_deadline()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Config(warning: "00:00:00"));
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("touched").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        await MakeDormantAsync(cluster);

        // Its partition loaded 14:10 into its queue; the touch at 14:09 moves the deadline to 14:19.
        time.SetUtcNow(SessionCluster.Start.AddMinutes(9));
        var touched = await session.TouchAsync();
        Assert.Equal(SessionCluster.Start.AddMinutes(19), touched.ExpiresAt);
        await MakeDormantAsync(cluster);

        time.SetUtcNow(SessionCluster.Start.AddMinutes(10));
        time.SetUtcNow(SessionCluster.Start.AddMinutes(15));
        Assert.True(await session.IsActiveAsync());
        Assert.Empty(events.Of(created.SessionId, SessionEventType.Expired));
        await MakeDormantAsync(cluster);

        time.SetUtcNow(SessionCluster.Start.AddMinutes(19));
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
        Assert.Equal(SessionCluster.Start.AddMinutes(19), (await session.GetAsync()).EndedAt);
    }

    [Fact]
    public async Task A_window_larger_than_the_queue_limit_is_loaded_in_parts_and_every_session_ends_once_on_time()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        var config = Config(warning: "00:00:00");
        config["Janitor:Partitions"] = "1";
        config["Janitor:BatchSize"] = "2";
        config["Janitor:QueueLimit"] = "3";
        await using var cluster = await SessionCluster.StartAsync(time, config, index: index);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var sessions = new List<SessionInfo>();
        for (var i = 0; i < 10; i++)
        {
            // Two by two on the same deadline, so pages split ties.
            if (i % 2 == 0)
            {
                time.Advance(TimeSpan.FromSeconds(5));
            }
            sessions.Add(await cluster.Client.GetGrain<IUserSessionsGrain>($"bulk-{i}").CreateSessionAsync());
        }
        await MakeDormantAsync(cluster);

        foreach (var created in sessions)
        {
            time.SetUtcNow(created.ExpiresAt);
            await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1, what: created.SessionId);
            Assert.Equal(created.ExpiresAt, (await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).GetAsync()).EndedAt);
        }
        Assert.All(sessions, s => Assert.Single(events.Of(s.SessionId, SessionEventType.Expired)));
        Assert.Equal(0, await SessionCluster.SessionRowsAsync(index));
    }

    [Fact]
    public async Task A_partition_activated_again_loads_its_window_from_the_index_and_misses_nothing()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Config(warning: "00:00:00"));
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("moved").CreateSessionAsync();
        await MakeDormantAsync(cluster);
        var partition = cluster.Client.GetGrain<IJanitorGrain>(JanitorGrain.Key(SessionDeadlinePartitioner.GetPartition(created.SessionId, 8)));

        // The partition's activation goes (as with its silo) before the deadline; the deadline passes unseen.
        await SessionCluster.DeactivateAsync(cluster, partition);
        time.SetUtcNow(created.ExpiresAt + TimeSpan.FromMinutes(3));
        Assert.Empty(events.Of(created.SessionId, SessionEventType.Expired));

        // Its reminder (here: the silo start's call) activates it again: the first window starts at the index's start.
        await partition.EnsureStartedAsync();
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
        var info = await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).GetAsync();
        Assert.Equal(created.ExpiresAt, info.EndedAt);
    }

    [Fact]
    public void Dormancy_is_the_collection_age_of_the_session_and_user_grains()
    {
        var collection = new Orleans.Configuration.GrainCollectionOptions();
        SiloBuilderSessionExtensions.ConfigureDormancy(collection, TimeSpan.FromSeconds(20));
        Assert.Equal(TimeSpan.FromSeconds(20), collection.ClassSpecificCollectionAge[typeof(SessionGrain).FullName!]);
        Assert.Equal(TimeSpan.FromSeconds(20), collection.ClassSpecificCollectionAge[typeof(UserSessionsGrain).FullName!]);
        // Orleans requires an age above the quantum.
        Assert.Equal(TimeSpan.FromSeconds(10), collection.CollectionQuantum);

        // Off: live sessions keep themselves (DelayDeactivation); reads of ended ones go after 2 minutes.
        var off = new Orleans.Configuration.GrainCollectionOptions();
        SiloBuilderSessionExtensions.ConfigureDormancy(off, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromMinutes(2), off.ClassSpecificCollectionAge[typeof(SessionGrain).FullName!]);
        Assert.False(off.ClassSpecificCollectionAge.ContainsKey(typeof(UserSessionsGrain).FullName!));
        Assert.Equal(TimeSpan.FromMinutes(1), off.CollectionQuantum);
    }

    /// <summary>Orleans' idle collection, now instead of after Sessions:DormantAfter; waits until no session activation is left.</summary>
    private static async Task MakeDormantAsync(Orleans.TestingHost.InProcessTestCluster cluster)
    {
        await cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await Wait.UntilAsync(async () => await SessionCluster.ActivationCountAsync<SessionGrain>(cluster) == 0, what: "dormant");
    }
}
