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

    [Theory]
    [InlineData("")]
    [InlineData("line\nbreak")]
    [InlineData("nul\0char")]
    [InlineData("tab\tchar")]
    [InlineData("team/alice")]
    [InlineData("team%2Falice")]
    [InlineData("..")]
    [InlineData("zero\u200Bwidth")]
    [InlineData("e\u0301")]
    public async Task Invalid_user_id_is_an_argument_error(string userId)
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        if (userId.Length == 0)
        {
            // Orleans refuses an empty grain key before any call is made.
            Assert.Throws<ArgumentException>(() => cluster.Client.GetGrain<IUserSessionsGrain>(userId));
            return;
        }
        var user = cluster.Client.GetGrain<IUserSessionsGrain>(userId);
        await Assert.ThrowsAsync<ArgumentException>(() => user.CreateSessionAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => user.GetHistoryAsync(10));
        await Assert.ThrowsAsync<ArgumentException>(() => user.GetActiveSessionsAsync());
    }

    [Fact]
    public async Task User_id_of_129_characters_is_an_argument_error_and_128_is_fine()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetGrain<IUserSessionsGrain>(new string('u', 129)).CreateSessionAsync());
        var info = await cluster.Client.GetGrain<IUserSessionsGrain>(new string('u', 128)).CreateSessionAsync();
        Assert.Equal(new string('u', 128), info.UserId);
        Assert.Equal("usuario-ñ-😀", (await cluster.Client.GetGrain<IUserSessionsGrain>("usuario-ñ-😀").CreateSessionAsync()).UserId);
    }

    [Fact]
    public async Task Negative_history_limit_is_an_argument_error()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetGrain<IUserSessionsGrain>("someone").GetHistoryAsync(-1));
    }

    [Theory]
    [InlineData("sess_123")]
    [InlineData("not-a-session")]
    [InlineData("sess_0E5E4E0F-9B0C-4D6A-8F7E-1A2B3C4D5E6F")] // upper case
    [InlineData("sess_0e5e4e0f-9b0c-1d6a-8f7e-1a2b3c4d5e6f")] // version 1
    [InlineData("sess_0e5e4e0f-9b0c-4d6a-cf7e-1a2b3c4d5e6f")] // wrong variant
    [InlineData("0e5e4e0f-9b0c-4d6a-8f7e-1a2b3c4d5e6f")]      // no prefix
    public async Task Malformed_session_id_is_an_argument_error(string sessionId)
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        var session = cluster.Client.GetGrain<ISessionGrain>(sessionId);
        await Assert.ThrowsAsync<ArgumentException>(async () => await session.TouchAsync());
        await Assert.ThrowsAsync<ArgumentException>(async () => await session.GetAsync());
        await Assert.ThrowsAsync<ArgumentException>(async () => await session.IsActiveAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => session.CloseAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetGrain<ISessionLifecycleGrain>(sessionId).CreateAsync("someone"));
    }

    [Fact]
    public async Task Unknown_well_formed_session_id_is_not_found()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        var session = cluster.Client.GetGrain<ISessionGrain>(SessionKeys.NewSessionId());
        await Assert.ThrowsAsync<SessionNotFoundException>(async () => await session.TouchAsync());
        await Assert.ThrowsAsync<SessionNotFoundException>(async () => await session.GetAsync());
        await Assert.ThrowsAsync<SessionNotFoundException>(() => session.CloseAsync());
        Assert.False(await session.IsActiveAsync());
        var lifecycle = cluster.Client.GetGrain<ISessionLifecycleGrain>(session.GetPrimaryKeyString());
        Assert.Null(await lifecycle.EndAsync(EndReason.Logout));
        Assert.False(await lifecycle.ExpireIfDueAsync());
    }

    [Fact]
    public async Task Creating_a_session_id_twice_is_refused()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        var id = SessionKeys.NewSessionId();
        var session = cluster.Client.GetGrain<ISessionLifecycleGrain>(id);
        await session.CreateAsync("first-owner");
        await Assert.ThrowsAsync<SessionAlreadyExistsException>(() => session.CreateAsync("second-owner"));
        Assert.Equal("first-owner", (await cluster.Client.GetGrain<ISessionGrain>(id).GetAsync()).UserId);
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
