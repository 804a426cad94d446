using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.TestingHost;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>Sessions:PersistTouches: a touch is written before it is acknowledged (default), or at the session's next write or deactivation.</summary>
public sealed class PersistTouchesTests
{
    [Fact]
    public async Task By_default_a_touch_is_stored_before_it_is_acknowledged()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, store: store);
        var session = await cluster.Client.GetGrain<IUserSessionsGrain>("writes").CreateSessionAsync();
        time.Advance(TimeSpan.FromMinutes(5));
        var touched = await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).TouchAsync();
        Assert.Equal(touched.LastActivity, Stored(cluster, store, session.SessionId).LastActivity);
    }

    [Fact]
    public async Task Without_persisted_touches_the_activity_is_stored_at_deactivation()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string> { ["Sessions:PersistTouches"] = "false" }, store: store);
        var session = await cluster.Client.GetGrain<IUserSessionsGrain>("write-behind").CreateSessionAsync();
        var grain = cluster.Client.GetGrain<ISessionGrain>(session.SessionId);
        time.Advance(TimeSpan.FromMinutes(5));
        var touched = await grain.TouchAsync();

        // Acknowledged, answered from the activation, not yet stored.
        Assert.Equal(SessionCluster.Start.AddMinutes(5), touched.LastActivity);
        Assert.Equal(touched.ExpiresAt, (await grain.GetAsync()).ExpiresAt);
        Assert.Equal(session.LastActivity, Stored(cluster, store, session.SessionId).LastActivity);

        await SessionCluster.DeactivateAsync(cluster, grain);
        Assert.Equal(touched.LastActivity, Stored(cluster, store, session.SessionId).LastActivity);
        // A new activation reads it back: the session lives on from the last touch.
        time.Advance(TimeSpan.FromMinutes(28));
        Assert.True(await grain.IsActiveAsync());
    }

    private static SessionState Stored(InProcessTestCluster cluster, SharedGrainStorage.Store store, string sessionId)
    {
        var record = store.Records[(SessionStorage.SessionStateName, GrainId.Create("session", sessionId))];
        return cluster.Silos[0].ServiceProvider.GetRequiredService<Serializer>().Deserialize<SessionState>(record.Data)!;
    }
}
