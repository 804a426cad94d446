using Microsoft.Extensions.Time.Testing;
using Orleans.Concurrency;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>SessionToucher and the touch grain: concurrent touches leave in shared calls, and each gets its own session's exact answer.</summary>
public sealed class SessionToucherTests
{
    [Fact]
    public async Task Concurrent_touches_share_calls_and_each_gets_its_own_sessions_answer()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var batches = new CallCounter();
        await using var cluster = await SessionCluster.StartAsync(time, configureSilo: silo => silo.AddIncomingGrainCallFilter(batches.Count));
        var client = cluster.Client;

        var expiring = await CreateAsync(client, "old", 20);
        time.Advance(TimeSpan.FromMinutes(20));
        var live = await CreateAsync(client, "new", 150);
        var closed = live.Take(10).ToArray();
        foreach (var id in closed)
        {
            await client.GetGrain<ISessionGrain>(id).CloseAsync();
        }
        var open = live.Skip(10).ToArray();
        var unknown = Enumerable.Range(0, 10).Select(_ => "sess_" + Guid.NewGuid().ToString("D")).ToArray();
        time.Advance(TimeSpan.FromMinutes(15));
        var now = time.GetUtcNow();

        // One call in flight at a time: everything queued behind the first touch leaves together.
        var toucher = new SessionToucher(client, new SessionToucherOptions { MaxCallsInFlight = 1 });
        var ids = expiring.Concat(open).Concat(closed).Concat(unknown).ToArray();
        var touches = ids.Select(toucher.TouchAsync).ToArray();
        var outcomes = new Dictionary<string, object>();
        for (var i = 0; i < ids.Length; i++)
        {
            try
            {
                outcomes[ids[i]] = await touches[i];
            }
            catch (Exception exception)
            {
                outcomes[ids[i]] = exception;
            }
        }

        foreach (var id in open)
        {
            var info = Assert.IsType<SessionInfo>(outcomes[id]);
            Assert.Equal(id, info.SessionId);
            Assert.Equal(now, info.LastActivity);
            Assert.Equal(now.AddMinutes(30), info.ExpiresAt);
            Assert.Equal(SessionStatus.Active, info.Status);
            Assert.Equal(now, (await client.GetGrain<ISessionGrain>(id).GetAsync()).LastActivity);
        }
        Assert.All(expiring, id => Assert.IsType<SessionExpiredException>(outcomes[id]));
        Assert.All(closed, id => Assert.IsType<SessionClosedException>(outcomes[id]));
        Assert.All(unknown, id => Assert.IsType<SessionNotFoundException>(outcomes[id]));

        // The first touch left alone; the other 169 waited for it and left in one or a few shared calls.
        Assert.InRange(batches.Calls, 1, 5);
        Assert.True(batches.Touches >= ids.Length - 5, $"{batches.Touches} of {ids.Length} touches went in shared calls.");
    }

    [Fact]
    public async Task When_a_shared_call_fails_every_touch_in_it_fails_with_that_error_and_later_touches_still_go()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var refuse = true;
        await using var cluster = await SessionCluster.StartAsync(time, configureSilo: silo => silo.AddIncomingGrainCallFilter(context =>
            refuse && context.InterfaceMethod?.Name == nameof(ISessionTouchGrain.TouchManyAsync)
                ? throw new InvalidOperationException("batch refused")
                : context.Invoke()));
        var ids = await CreateAsync(cluster.Client, "refused", 40);
        var toucher = new SessionToucher(cluster.Client, new SessionToucherOptions { MaxCallsInFlight = 1 });

        var touches = ids.Select(toucher.TouchAsync).ToArray();
        var failed = 0;
        foreach (var touch in touches)
        {
            try
            {
                await touch;
            }
            catch (InvalidOperationException exception) when (exception.Message == "batch refused")
            {
                failed++;
            }
        }
        // All but the first (sent alone as a plain touch) were in refused shared calls.
        Assert.Equal(ids.Length - 1, failed);

        refuse = false;
        var again = await Task.WhenAll(ids.Select(toucher.TouchAsync));
        Assert.Equal(ids, again.Select(s => s.SessionId));
    }

    private static async Task<string[]> CreateAsync(IClusterClient client, string prefix, int count)
    {
        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = (await client.GetGrain<IUserSessionsGrain>($"{prefix}-{i}").CreateSessionAsync()).SessionId;
        }
        return ids;
    }

    /// <summary>Counts the shared touch calls a silo receives and the touches they carry.</summary>
    private sealed class CallCounter
    {
        private int _calls;
        private int _touches;

        public int Calls => Volatile.Read(ref _calls);

        public int Touches => Volatile.Read(ref _touches);

        public Task Count(IIncomingGrainCallContext context)
        {
            if (context.InterfaceMethod?.Name == nameof(ISessionTouchGrain.TouchManyAsync) && context.Request.GetArgument(0) is Immutable<string[]> ids)
            {
                Interlocked.Increment(ref _calls);
                Interlocked.Add(ref _touches, ids.Value.Length);
            }
            return context.Invoke();
        }
    }
}
