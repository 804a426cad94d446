using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Storage;
using Orleans.Runtime;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>The durable event log on the grains, on a fake clock: outbox, cursors, resume, retention.</summary>
public sealed class EventLogTests
{
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Sessions:IdleTimeout"] = "00:10:00",
        ["Sessions:WarningBefore"] = "00:02:00",
        ["Events:Retention"] = "01:00:00",
    };

    private static async Task<List<SessionEvent>> ReadAllAsync(IGrainFactory grains, string after, string? userId = null, int limit = 3)
    {
        var log = grains.GetGrain<ISessionEventLogGrain>(0);
        var all = new List<SessionEvent>();
        var cursor = after;
        while (true)
        {
            var page = await log.ReadAsync(cursor, limit, userId);
            all.AddRange(page.Events);
            if (page.Cursor == cursor)
            {
                return all;
            }
            cursor = page.Cursor;
        }
    }

    [Fact]
    public async Task Every_lifecycle_event_is_in_the_log_once_in_order_with_a_cursor_to_resume_from()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Settings);
        var grains = cluster.Client;
        var log = grains.GetGrain<ISessionEventLogGrain>(0);
        var start = await log.HeadAsync();

        var alice = await grains.GetGrain<IUserSessionsGrain>("alice").CreateSessionAsync();
        var bob = await grains.GetGrain<IUserSessionsGrain>("bob").CreateSessionAsync();
        await grains.GetGrain<ISessionGrain>(alice.SessionId).CloseAsync();
        time.Advance(TimeSpan.FromMinutes(8));   // bob's warning
        await Wait.UntilAsync(async () => (await ReadAllAsync(grains, start, "bob")).Count == 2, what: "bob's warning in the log");
        time.Advance(TimeSpan.FromMinutes(2));   // bob's deadline
        await Wait.UntilAsync(async () => (await ReadAllAsync(grains, start, "bob")).Count == 3, what: "bob's expiry in the log");

        var all = await ReadAllAsync(grains, start);
        Assert.Equal(5, all.Count);
        Assert.Equal([SessionEventType.Created, SessionEventType.Closed], all.Where(e => e.Session.UserId == "alice").Select(e => e.Type));
        Assert.Equal([SessionEventType.Created, SessionEventType.Expiring, SessionEventType.Expired], all.Where(e => e.Session.UserId == "bob").Select(e => e.Type));
        Assert.Equal(all.Count, all.Select(e => e.Cursor).Distinct().Count());

        // Resuming after any event gives exactly the events after it.
        for (var i = 0; i < all.Count; i++)
        {
            var rest = await ReadAllAsync(grains, all[i].Cursor!);
            Assert.Equal(all.Skip(i + 1).Select(e => (e.Session.SessionId, e.Type)), rest.Select(e => (e.Session.SessionId, e.Type)));
        }
        // "0" replays everything retained; the filter keeps one user's.
        Assert.Equal(5, (await ReadAllAsync(grains, ISessionEventLogGrain.Start)).Count);
        Assert.Equal(2, (await ReadAllAsync(grains, ISessionEventLogGrain.Start, "alice")).Count);
    }

    [Fact]
    public async Task An_end_stored_without_its_event_gets_it_from_the_outbox_once()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Settings);
        var grains = cluster.Client;
        var created = await grains.GetGrain<IUserSessionsGrain>("carol").CreateSessionAsync();
        var session = grains.GetGrain<ISessionGrain>(created.SessionId);
        await SessionCluster.DeactivateAsync(cluster, session);

        // The end is stored with its event in the outbox, as if the silo died before appending it.
        var storage = cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(SessionStorage.Name);
        var grainId = GrainId.Create("session", created.SessionId);
        var stored = new GrainState<SessionState>();
        await storage.ReadStateAsync(SessionStorage.SessionStateName, grainId, stored);
        stored.State!.End(EndReason.Logout, time.GetUtcNow(), new Options.SessionOptions());
        stored.State.RecordEvent(SessionEventType.Closed, time.GetUtcNow());
        await storage.WriteStateAsync(SessionStorage.SessionStateName, grainId, stored);

        var before = await ReadAllAsync(grains, ISessionEventLogGrain.Start, "carol");
        Assert.Equal([SessionEventType.Created], before.Select(e => e.Type));

        // Any activation appends it; however many there are, the log holds it once.
        Assert.Equal(SessionStatus.Closed, (await session.GetAsync()).Status);
        await SessionCluster.DeactivateAsync(cluster, session);
        await session.GetAsync();
        await SessionCluster.RunJanitorsAsync(grains);
        var after = await ReadAllAsync(grains, ISessionEventLogGrain.Start, "carol");
        Assert.Equal([SessionEventType.Created, SessionEventType.Closed], after.Select(e => e.Type));
    }

    [Fact]
    public async Task A_cursor_past_retention_is_refused_with_the_oldest_cursor_held()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Settings);
        var grains = cluster.Client;
        var log = grains.GetGrain<ISessionEventLogGrain>(0);
        var first = await grains.GetGrain<IUserSessionsGrain>("dave").CreateSessionAsync();
        var early = (await ReadAllAsync(grains, ISessionEventLogGrain.Start, "dave")).Single();
        await grains.GetGrain<ISessionGrain>(first.SessionId).CloseAsync();

        time.Advance(TimeSpan.FromMinutes(61));
        await grains.GetGrain<IUserSessionsGrain>("dave").CreateSessionAsync();
        await SessionCluster.RunJanitorsAsync(grains);

        var expired = await Assert.ThrowsAsync<EventCursorExpiredException>(() => log.ReadAsync(early.Cursor!, 10));
        var retained = await ReadAllAsync(grains, expired.OldestCursor, "dave");
        Assert.Equal([SessionEventType.Created], retained.Select(e => e.Type));
        Assert.Equal(retained.Select(e => e.Cursor), (await ReadAllAsync(grains, ISessionEventLogGrain.Start, "dave")).Select(e => e.Cursor));
        await Assert.ThrowsAsync<ArgumentException>(() => log.ReadAsync("v1:1.2", 10));
        await Assert.ThrowsAsync<ArgumentException>(() => log.ReadAsync("garbage", 10));
    }
}
