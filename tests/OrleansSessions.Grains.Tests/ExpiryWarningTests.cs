using OrleansSessions.Sessions;
using Microsoft.Extensions.Time.Testing;

namespace OrleansSessions.Grains.Tests;

public sealed class ExpiryWarningTests
{
    [Fact]
    public async Task Expiring_is_published_once_per_deadline_and_rearmed_after_a_touch()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:30:00",
            ["Sessions:WarningBefore"] = "00:02:00",
        });
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("warned").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);

        // Touches before the warning point move the deadline; the warning follows it (lazy re-arm).
        time.SetUtcNow(SessionCluster.Start.AddMinutes(10));
        await session.TouchAsync(); // deadline 14:40, warning at 14:38
        time.SetUtcNow(SessionCluster.Start.AddMinutes(28));
        Assert.True(await session.IsActiveAsync());
        time.SetUtcNow(SessionCluster.Start.AddMinutes(38));
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expiring).Count == 1);
        var first = Assert.Single(events.Of(created.SessionId, SessionEventType.Expiring));
        Assert.Equal(SessionCluster.Start.AddMinutes(40), first.Session.ExpiresAt);
        Assert.Equal(SessionCluster.Start.AddMinutes(38), first.At);

        // Still the same deadline: no second warning.
        time.SetUtcNow(SessionCluster.Start.AddMinutes(39));
        Assert.True(await session.IsActiveAsync());

        // A touch moves the deadline to 15:09: one warning at 15:07.
        await session.TouchAsync();
        time.SetUtcNow(SessionCluster.Start.AddMinutes(66));
        Assert.True(await session.IsActiveAsync());
        Assert.Single(events.Of(created.SessionId, SessionEventType.Expiring));
        time.SetUtcNow(SessionCluster.Start.AddMinutes(67));
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expiring).Count == 2);
        var second = events.Of(created.SessionId, SessionEventType.Expiring)[1];
        Assert.Equal(SessionCluster.Start.AddMinutes(69), second.Session.ExpiresAt);

        // Then the expiry timer ends it and reports it once.
        time.SetUtcNow(SessionCluster.Start.AddMinutes(70));
        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
        Assert.Equal(2, events.Of(created.SessionId, SessionEventType.Expiring).Count);
        var expired = Assert.Single(events.Of(created.SessionId, SessionEventType.Expired));
        Assert.Equal(EndReason.IdleTimeout, expired.Session.EndReason);
        Assert.Equal(SessionCluster.Start.AddMinutes(69), expired.Session.EndedAt);
    }

    [Fact]
    public async Task Expiry_timer_ends_an_untouched_session_and_reports_it_to_history_and_subscribers()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string> { ["Sessions:IdleTimeout"] = "00:20:00" });
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("idle-user");
        var created = await user.CreateSessionAsync();

        time.Advance(TimeSpan.FromMinutes(21));

        await Wait.UntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
        var expired = Assert.Single(events.Of(created.SessionId, SessionEventType.Expired));
        Assert.Equal(SessionStatus.Expired, expired.Session.Status);
        Assert.Equal(SessionCluster.Start.AddMinutes(20), expired.Session.EndedAt);
        var entry = Assert.Single(await user.GetHistoryAsync(10));
        Assert.Equal(EndReason.IdleTimeout, entry.EndReason);
    }
}
