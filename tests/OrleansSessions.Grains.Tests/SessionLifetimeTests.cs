using OrleansSessions.Sessions;
using Microsoft.Extensions.Time.Testing;

namespace OrleansSessions.Grains.Tests;

public sealed class SessionLifetimeTests
{
    private static readonly Dictionary<string, string> ThirtyMinutes = new()
    {
        ["Sessions:IdleTimeout"] = "00:30:00",
        ["Sessions:AbsoluteTimeout"] = "08:00:00",
    };

    [Fact]
    public async Task Seed_timeline_touch_at_1415_keeps_session_until_1445_and_touch_at_1450_is_expired()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, ThirtyMinutes);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("alvaro_123");

        var created = await user.CreateSessionAsync();
        Assert.Matches("^sess_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", created.SessionId);
        Assert.Equal(SessionCluster.Start, created.CreatedAt);
        Assert.Equal(SessionCluster.Start.AddMinutes(30), created.ExpiresAt);
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);

        time.SetUtcNow(SessionCluster.Start.AddMinutes(15));
        var touched = await session.TouchAsync();
        Assert.Equal(SessionCluster.Start.AddMinutes(15), touched.LastActivity);
        Assert.Equal(SessionCluster.Start.AddMinutes(45), touched.ExpiresAt);

        time.SetUtcNow(SessionCluster.Start.AddMinutes(45).AddTicks(-1));
        Assert.True(await session.IsActiveAsync());

        time.SetUtcNow(SessionCluster.Start.AddMinutes(45));
        Assert.False(await session.IsActiveAsync());

        time.SetUtcNow(SessionCluster.Start.AddMinutes(50));
        Assert.False(await session.IsActiveAsync());
        await Assert.ThrowsAsync<SessionExpiredException>(async () => await session.TouchAsync());

        var ended = await session.GetAsync();
        Assert.Equal(SessionStatus.Expired, ended.Status);
        Assert.Equal(EndReason.IdleTimeout, ended.EndReason);
        Assert.Equal(SessionCluster.Start.AddMinutes(45), ended.EndedAt);

        var history = await user.GetHistoryAsync(100);
        var entry = Assert.Single(history, h => h.SessionId == created.SessionId);
        Assert.Equal(EndReason.IdleTimeout, entry.EndReason);
        Assert.Empty(await user.GetActiveSessionsAsync());
        Assert.Equal(created.SessionId, (await user.GetCurrentSessionAsync())?.SessionId);
    }

    [Fact]
    public async Task Session_is_active_one_tick_before_its_deadline_and_inactive_at_it()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, ThirtyMinutes);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("boundary").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);

        time.SetUtcNow(created.ExpiresAt.AddTicks(-1));
        Assert.True(await session.IsActiveAsync());
        Assert.Equal(SessionStatus.Active, (await session.GetAsync()).Status);

        // No wait for a timer: the answer is computed from the clock at call time.
        time.SetUtcNow(created.ExpiresAt);
        Assert.False(await session.IsActiveAsync());
        var info = await session.GetAsync();
        Assert.Equal(SessionStatus.Expired, info.Status);
        Assert.Equal(created.ExpiresAt, info.EndedAt);
    }

    [Fact]
    public async Task Touching_every_ten_minutes_ends_at_the_absolute_timeout()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:30:00",
            ["Sessions:AbsoluteTimeout"] = "01:00:00",
        });
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("busy-user");
        var created = await user.CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        var cap = SessionCluster.Start.AddHours(1);

        for (var minutes = 10; minutes < 60; minutes += 10)
        {
            time.SetUtcNow(SessionCluster.Start.AddMinutes(minutes));
            var touched = await session.TouchAsync();
            var expected = SessionCluster.Start.AddMinutes(minutes + 30) < cap ? SessionCluster.Start.AddMinutes(minutes + 30) : cap;
            Assert.Equal(expected, touched.ExpiresAt);
        }

        time.SetUtcNow(cap.AddTicks(-1));
        Assert.True(await session.IsActiveAsync());
        time.SetUtcNow(cap);
        await Assert.ThrowsAsync<SessionExpiredException>(async () => await session.TouchAsync());

        var info = await session.GetAsync();
        Assert.Equal(SessionStatus.Expired, info.Status);
        Assert.Equal(EndReason.AbsoluteTimeout, info.EndReason);
        var entry = Assert.Single(await user.GetHistoryAsync(10));
        Assert.Equal(EndReason.AbsoluteTimeout, entry.EndReason);
    }

    [Fact]
    public async Task Touch_after_logout_throws_session_closed()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, ThirtyMinutes);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("leaving-user");
        var created = await user.CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);

        time.Advance(TimeSpan.FromMinutes(5));
        var closed = await session.CloseAsync();
        Assert.Equal(SessionStatus.Closed, closed.Status);
        Assert.Equal(EndReason.Logout, closed.EndReason);
        Assert.Equal(SessionCluster.Start.AddMinutes(5), closed.EndedAt);

        await Assert.ThrowsAsync<SessionClosedException>(async () => await session.TouchAsync());
        Assert.False(await session.IsActiveAsync());
        // Closing again returns the session unchanged.
        Assert.Equal(closed, await session.CloseAsync());

        // Later deadlines change nothing: it ended once, by logout.
        time.Advance(TimeSpan.FromHours(1));
        await Assert.ThrowsAsync<SessionClosedException>(async () => await session.TouchAsync());
        var entry = Assert.Single(await user.GetHistoryAsync(10));
        Assert.Equal(EndReason.Logout, entry.EndReason);
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Closed).Count == 1);
        Assert.Single(events.Of(created.SessionId, SessionEventType.Created));
        Assert.Empty(events.Of(created.SessionId, SessionEventType.Expired));
    }

    [Fact]
    public async Task Hundred_parallel_touches_racing_a_close_leave_one_closed_session_in_history_once()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, ThirtyMinutes);
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("racer");
        var created = await user.CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        time.Advance(TimeSpan.FromMinutes(1));

        var touches = Enumerable.Range(0, 100).Select(_ => Task.Run(async () =>
        {
            try
            {
                await session.TouchAsync();
                return true;
            }
            catch (SessionClosedException)
            {
                return false;
            }
        })).ToList();
        var close = Task.Run(() => session.CloseAsync());
        await Task.WhenAll(touches);
        var closed = await close;

        Assert.Equal(SessionStatus.Closed, closed.Status);
        Assert.Equal(EndReason.Logout, closed.EndReason);
        var final = await session.GetAsync();
        Assert.Equal(closed, final);
        await Assert.ThrowsAsync<SessionClosedException>(async () => await session.TouchAsync());

        var history = await user.GetHistoryAsync(100);
        var entry = Assert.Single(history);
        Assert.Equal(created.SessionId, entry.SessionId);
        Assert.Equal(EndReason.Logout, entry.EndReason);
        Assert.Empty(await user.GetActiveSessionsAsync());
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Closed).Count >= 1);
        Assert.Single(events.Of(created.SessionId, SessionEventType.Closed));
    }
}
