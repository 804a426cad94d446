using OrleansSessions.Sessions;
using Microsoft.Extensions.Time.Testing;

namespace OrleansSessions.Grains.Tests;

public sealed class UserSessionsTests
{
    [Fact]
    public async Task Close_all_returns_the_count_and_history_shows_logout_all()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("many-devices");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await user.CreateSessionAsync()).SessionId);
            time.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(ids, (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));

        Assert.Equal(3, await user.CloseAllAsync());

        Assert.Empty(await user.GetActiveSessionsAsync());
        var history = await user.GetHistoryAsync(100);
        Assert.Equal(3, history.Count);
        Assert.All(history, h => Assert.Equal(EndReason.LogoutAll, h.EndReason));
        Assert.All(history, h => Assert.Equal(SessionStatus.Closed, h.Status));
        Assert.Equal(ids.OrderBy(x => x), history.Select(h => h.SessionId).OrderBy(x => x));
        foreach (var id in ids)
        {
            await Assert.ThrowsAsync<SessionClosedException>(async () => await cluster.Client.GetGrain<ISessionGrain>(id).TouchAsync());
        }
        Assert.Equal(0, await user.CloseAllAsync());
        await Wait.UntilAsync(() => events.Count(SessionEventType.Closed) == 3);
    }

    [Fact]
    public async Task Max_per_user_with_evict_oldest_evicts_the_oldest_session()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>
        {
            ["Sessions:MaxPerUser"] = "2",
            ["Sessions:OverLimit"] = "EvictOldest",
        });
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("limited");
        var first = await user.CreateSessionAsync();
        time.Advance(TimeSpan.FromSeconds(1));
        var second = await user.CreateSessionAsync();
        time.Advance(TimeSpan.FromSeconds(1));
        var third = await user.CreateSessionAsync();

        Assert.Equal([second.SessionId, third.SessionId], (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
        var evicted = await cluster.Client.GetGrain<ISessionGrain>(first.SessionId).GetAsync();
        Assert.Equal(SessionStatus.Closed, evicted.Status);
        Assert.Equal(EndReason.Evicted, evicted.EndReason);
        await Assert.ThrowsAsync<SessionClosedException>(async () => await cluster.Client.GetGrain<ISessionGrain>(first.SessionId).TouchAsync());
        var entry = Assert.Single(await user.GetHistoryAsync(10));
        Assert.Equal(first.SessionId, entry.SessionId);
        Assert.Equal(third.SessionId, (await user.GetCurrentSessionAsync())?.SessionId);

        await Wait.UntilAsync(() => events.Of(first.SessionId, SessionEventType.Evicted).Count == 1 && events.Count(SessionEventType.Created) == 3);
        Assert.Single(events.Of(third.SessionId, SessionEventType.Created));
        Assert.Empty(events.Of(first.SessionId, SessionEventType.Closed));
    }

    [Fact]
    public async Task Max_per_user_with_reject_throws_session_limit_exceeded()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>
        {
            ["Sessions:MaxPerUser"] = "2",
            ["Sessions:OverLimit"] = "Reject",
            ["Sessions:IdleTimeout"] = "00:10:00",
        });
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("strict");
        var first = await user.CreateSessionAsync();
        await user.CreateSessionAsync();

        await Assert.ThrowsAsync<SessionLimitExceededException>(() => user.CreateSessionAsync());
        Assert.Equal(2, (await user.GetActiveSessionsAsync()).Count);

        // A slot frees when a session ends: by logout, or by expiry even if no timer has reported it yet.
        await cluster.Client.GetGrain<ISessionGrain>(first.SessionId).CloseAsync();
        var third = await user.CreateSessionAsync();
        Assert.Equal(SessionStatus.Active, third.Status);
        await Assert.ThrowsAsync<SessionLimitExceededException>(() => user.CreateSessionAsync());

        time.Advance(TimeSpan.FromMinutes(10));
        var fresh = await user.CreateSessionAsync();
        Assert.Equal(SessionStatus.Active, fresh.Status);
    }

    [Fact]
    public async Task History_limit_trims_oldest_and_trimmed_ids_answer_not_found()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string> { ["Sessions:HistoryLimit"] = "3" });
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("forgetful");
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var info = await user.CreateSessionAsync();
            ids.Add(info.SessionId);
            time.Advance(TimeSpan.FromSeconds(1));
            await cluster.Client.GetGrain<ISessionGrain>(info.SessionId).CloseAsync();
        }

        var history = await user.GetHistoryAsync(100);
        Assert.Equal([ids[4], ids[3], ids[2]], history.Select(h => h.SessionId));
        Assert.Equal([ids[4], ids[3]], (await user.GetHistoryAsync(2)).Select(h => h.SessionId));
        Assert.Empty(await user.GetHistoryAsync(0));

        foreach (var kept in ids.Skip(2))
        {
            var info = await cluster.Client.GetGrain<ISessionGrain>(kept).GetAsync();
            Assert.Equal(SessionStatus.Closed, info.Status);
        }
        foreach (var trimmed in ids.Take(2))
        {
            // Forgetting is one-way: wait for it, then the id is gone for good.
            await SessionCluster.WaitUntilForgottenAsync(cluster.Client, trimmed);
            await Assert.ThrowsAsync<SessionNotFoundException>(async () => await cluster.Client.GetGrain<ISessionGrain>(trimmed).TouchAsync());
            Assert.False(await cluster.Client.GetGrain<ISessionGrain>(trimmed).IsActiveAsync());
        }
    }

    [Fact]
    public async Task After_a_close_all_beyond_the_history_limit_every_history_entry_stays_readable()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string> { ["Sessions:HistoryLimit"] = "10" });
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("bulk-logout");
        var ids = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            ids.Add((await user.CreateSessionAsync()).SessionId);
        }

        Assert.Equal(40, await user.CloseAllAsync());

        // Each session's own notice of its end reaches the user grain after the close-all recorded it.
        var history = await user.GetHistoryAsync(100);
        Assert.Equal(10, history.Count);
        Assert.Equal(10, history.Select(h => h.SessionId).Distinct().Count());
        var kept = history.Select(h => h.SessionId).ToHashSet();
        foreach (var trimmed in ids.Where(id => !kept.Contains(id)))
        {
            await SessionCluster.WaitUntilForgottenAsync(cluster.Client, trimmed);
        }
        Assert.Equal(history.Select(h => h.SessionId), (await user.GetHistoryAsync(100)).Select(h => h.SessionId));
        foreach (var entry in history)
        {
            var info = await cluster.Client.GetGrain<ISessionGrain>(entry.SessionId).GetAsync();
            Assert.Equal(SessionStatus.Closed, info.Status);
            Assert.Equal(EndReason.LogoutAll, info.EndReason);
        }
    }

    [Fact]
    public async Task Session_and_user_calls_in_both_directions_at_once_do_not_deadlock()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:10:00",
            ["Sessions:MaxPerUser"] = "5",
        }, silos: 2);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("cyclic");
        var sessions = new List<SessionInfo>();
        for (var i = 0; i < 5; i++)
        {
            sessions.Add(await user.CreateSessionAsync());
        }

        // Session -> user: timers end sessions and report to the user grain; logouts do the same.
        // User -> session: evictions (creates at the limit), close-all and reads call the sessions and wait.
        time.Advance(TimeSpan.FromMinutes(10));
        var calls = new List<Task>
        {
            user.CloseAllAsync(),
            user.GetActiveSessionsAsync(),
            user.GetHistoryAsync(100),
        };
        calls.AddRange(sessions.Select(s => (Task)cluster.Client.GetGrain<ISessionGrain>(s.SessionId).CloseAsync()));
        calls.AddRange(Enumerable.Range(0, 10).Select(_ => (Task)user.CreateSessionAsync()));
        await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));

        // Each of the first five ended once, by timeout (their deadline passed before any call got to them).
        var history = await user.GetHistoryAsync(100);
        foreach (var session in sessions)
        {
            var entry = Assert.Single(history, h => h.SessionId == session.SessionId);
            Assert.Equal(EndReason.IdleTimeout, entry.EndReason);
        }
        Assert.Equal(history.Count, history.Select(h => h.SessionId).Distinct().Count());
        Assert.InRange((await user.GetActiveSessionsAsync()).Count, 0, 5);
    }
}
