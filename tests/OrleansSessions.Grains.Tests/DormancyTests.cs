using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Grains.Tests;

/// <summary>Sessions:DormantAfter: idle live sessions give up their activation and are woken on time.</summary>
public sealed class DormancyTests
{
    private static readonly Dictionary<string, string> Config = new()
    {
        ["Sessions:IdleTimeout"] = "00:30:00",
        ["Sessions:WarningBefore"] = "00:02:00",
        ["Sessions:DormantAfter"] = "00:01:00",
    };

    [Fact]
    public async Task An_idle_session_goes_dormant_and_a_touch_brings_it_back_with_its_state()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Config);
        var silo = cluster.Silos[0];
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("dormant-user").CreateSessionAsync();
        Assert.True(silo.Handle.HasActivation<ISessionGrain>(created.SessionId));

        // Touched within the minute: it stays.
        time.Advance(TimeSpan.FromSeconds(50));
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        await session.TouchAsync();
        time.Advance(TimeSpan.FromSeconds(50));
        Assert.True(silo.Handle.HasActivation<ISessionGrain>(created.SessionId));
        Assert.Equal(0, Metrics(silo).DormantSessions);

        // A minute after the touch: no activation, one dormant entry, still live.
        time.Advance(TimeSpan.FromSeconds(11));
        await SessionCluster.WaitUntilAsync(() => !silo.Handle.HasActivation<ISessionGrain>(created.SessionId));
        Assert.Equal(1, Metrics(silo).DormantSessions);
        Assert.Equal(1, Metrics(silo).WentDormant);
        Assert.Equal(0, Metrics(silo).ActiveSessionActivations);

        // A touch activates it from storage: same timestamps, deadline slides from the touch.
        time.Advance(TimeSpan.FromMinutes(5));
        var touched = await session.TouchAsync();
        Assert.Equal(created.CreatedAt, touched.CreatedAt);
        Assert.Equal(time.GetUtcNow(), touched.LastActivity);
        Assert.Equal(time.GetUtcNow().AddMinutes(30), touched.ExpiresAt);
        Assert.Equal(0, Metrics(silo).DormantSessions);
        Assert.True(silo.Handle.HasActivation<ISessionGrain>(created.SessionId));
    }

    [Fact]
    public async Task A_dormant_session_is_warned_and_expires_on_time_exactly_once_without_an_activation()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Config);
        var silo = cluster.Silos[0];
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("dormant-expiry");
        var created = await user.CreateSessionAsync();

        time.Advance(TimeSpan.FromMinutes(2));
        await SessionCluster.WaitUntilAsync(() => Metrics(silo).DormantSessions == 1);
        Assert.False(silo.Handle.HasActivation<ISessionGrain>(created.SessionId));

        // Its warning time (14:28): the warning, and it sleeps on until its deadline.
        time.SetUtcNow(SessionCluster.Start.AddMinutes(28));
        await SessionCluster.WaitUntilAsync(() => events.Of(created.SessionId, SessionEventType.Expiring).Count == 1);
        var warning = Assert.Single(events.Of(created.SessionId, SessionEventType.Expiring));
        Assert.Equal(SessionCluster.Start.AddMinutes(28), warning.At);
        Assert.Equal(SessionCluster.Start.AddMinutes(30), warning.Session.ExpiresAt);
        await SessionCluster.WaitUntilAsync(() => Metrics(silo).DormantSessions == 1);

        time.SetUtcNow(SessionCluster.Start.AddMinutes(30));
        await SessionCluster.WaitUntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
        var expired = Assert.Single(events.Of(created.SessionId, SessionEventType.Expired));
        Assert.Equal(SessionCluster.Start.AddMinutes(30), expired.At);
        Assert.Equal(EndReason.IdleTimeout, expired.Session.EndReason);
        Assert.Equal(SessionCluster.Start.AddMinutes(30), expired.Session.EndedAt);
        Assert.Single(events.Of(created.SessionId, SessionEventType.Expiring));
        Assert.Equal(0, Metrics(silo).DormantSessions);
        Assert.Equal(1, Metrics(silo).WentDormant);
        Assert.False(silo.Handle.HasActivation<ISessionGrain>(created.SessionId));

        // Stored and recorded as the grain would have: in history, inactive, and gone from the deadline index.
        await SessionCluster.WaitUntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        var entry = Assert.Single(await user.GetHistoryAsync(10));
        Assert.Equal(created.SessionId, entry.SessionId);
        Assert.Empty(await user.GetActiveSessionsAsync());
        var stored = await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).GetAsync();
        Assert.Equal(SessionStatus.Expired, stored.Status);
        Assert.Equal(0, await SessionCluster.RunJanitorsAsync(cluster.Client));
    }

    [Fact]
    public async Task A_session_activated_after_its_dormant_warning_does_not_warn_again()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Config);
        var silo = cluster.Silos[0];
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("dormant-warned").CreateSessionAsync();
        time.Advance(TimeSpan.FromMinutes(2));
        await SessionCluster.WaitUntilAsync(() => Metrics(silo).DormantSessions == 1);
        time.SetUtcNow(SessionCluster.Start.AddMinutes(28));
        await SessionCluster.WaitUntilAsync(() => events.Of(created.SessionId, SessionEventType.Expiring).Count == 1);

        // A read activates it inside the warning window; its own warning timer must not publish again, and its
        // expiry timer (queued after that warning tick) ends it.
        Assert.True(await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).IsActiveAsync());
        Assert.Equal(0, Metrics(silo).DormantSessions);
        time.SetUtcNow(SessionCluster.Start.AddMinutes(29));
        time.SetUtcNow(SessionCluster.Start.AddMinutes(30));
        await SessionCluster.WaitUntilAsync(() => events.Of(created.SessionId, SessionEventType.Expired).Count == 1);
        Assert.Single(events.Of(created.SessionId, SessionEventType.Expiring));
    }

    [Fact]
    public async Task Without_warnings_a_dormant_session_is_woken_at_its_deadline()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        var config = new Dictionary<string, string>(Config) { ["Sessions:WarningBefore"] = "00:00:00" };
        await using var cluster = await SessionCluster.StartAsync(time, config);
        var silo = cluster.Silos[0];
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var sessions = new List<SessionInfo>();
        for (var i = 0; i < 20; i++)
        {
            sessions.Add(await cluster.Client.GetGrain<IUserSessionsGrain>($"dormant-{i}").CreateSessionAsync());
        }
        time.Advance(TimeSpan.FromMinutes(2));
        await SessionCluster.WaitUntilAsync(() => Metrics(silo).DormantSessions == 20);

        // One second before the deadline nothing has ended; at it, all have, each once.
        time.SetUtcNow(SessionCluster.Start.AddMinutes(30).AddSeconds(-1));
        Assert.DoesNotContain(events.All, e => e.Type == SessionEventType.Expired);
        time.SetUtcNow(SessionCluster.Start.AddMinutes(30));
        await SessionCluster.WaitUntilAsync(() => events.All.Count(e => e.Type == SessionEventType.Expired) == 20);
        Assert.All(events.All.Where(e => e.Type == SessionEventType.Expired), e => Assert.Equal(SessionCluster.Start.AddMinutes(30), e.At));
        Assert.Equal(0, Metrics(silo).DormantSessions);
        Assert.Equal(0, silo.Handle.ActivationCountOf<ISessionGrain>());
        foreach (var session in sessions)
        {
            Assert.False(await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).IsActiveAsync());
        }
    }

    [Fact]
    public async Task A_session_closed_after_it_went_dormant_is_not_woken_again()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, Config);
        var silo = cluster.Silos[0];
        await using var events = await EventRecorder.SubscribeAsync(cluster.Client);
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("dormant-close").CreateSessionAsync();
        time.Advance(TimeSpan.FromMinutes(2));
        await SessionCluster.WaitUntilAsync(() => Metrics(silo).DormantSessions == 1);

        var closed = await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).CloseAsync();
        Assert.Equal(SessionStatus.Closed, closed.Status);
        Assert.Equal(0, Metrics(silo).DormantSessions);

        await SessionCluster.WaitUntilAsync(() => events.Of(created.SessionId, SessionEventType.Closed).Count == 1);

        // Past its old warning time and deadline: the table no longer holds it, so nothing wakes it.
        time.SetUtcNow(SessionCluster.Start.AddMinutes(31));
        await SessionCluster.WaitUntilAsync(() => !silo.Handle.HasActivation<ISessionGrain>(created.SessionId));
        Assert.Equal(1, Metrics(silo).WentDormant);
        Assert.Empty(events.Of(created.SessionId, SessionEventType.Expiring));
        Assert.Empty(events.Of(created.SessionId, SessionEventType.Expired));
        var stored = await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).GetAsync();
        Assert.Equal(EndReason.Logout, stored.EndReason);
    }

    [Fact]
    public async Task DormantAfter_zero_keeps_idle_sessions_activated()
    {
        var time = new ManualTimeProvider(SessionCluster.Start);
        var config = new Dictionary<string, string>(Config) { ["Sessions:DormantAfter"] = "00:00:00" };
        await using var cluster = await SessionCluster.StartAsync(time, config);
        var silo = cluster.Silos[0];
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("never-dormant").CreateSessionAsync();
        time.Advance(TimeSpan.FromMinutes(20));
        // A call queued behind any timer turn: had the session gone dormant, it would have by now.
        await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).GetAsync();
        Assert.Equal(0, Metrics(silo).WentDormant);
        Assert.True(silo.Handle.HasActivation<ISessionGrain>(created.SessionId));
    }

    private static SessionMetrics Metrics(TestSilo silo) => silo.Services.GetRequiredService<SessionMetrics>();
}
