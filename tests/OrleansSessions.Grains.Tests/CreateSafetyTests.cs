using Microsoft.Extensions.Time.Testing;
using Orleans.Storage;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>Creates that fail half-way, and creates retried with an idempotency key.</summary>
public sealed class CreateSafetyTests
{
    [Fact]
    public async Task A_create_cut_off_between_its_writes_leaves_no_live_session_that_close_all_misses()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, store: store, index: index);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("cut-off");
        await user.CreateSessionAsync();

        // The user's next write fails, as if its silo was killed then: the session must not be left live without it.
        store.WriteFault = (stateName, _) => stateName == SessionStorage.UserStateName ? new InconsistentStateException("injected crash") : null;
        await Assert.ThrowsAnyAsync<Exception>(() => user.CreateSessionAsync());
        store.WriteFault = null;

        Assert.Equal(1, await user.CloseAllAsync());
        Assert.Empty(await user.GetActiveSessionsAsync());
        Assert.Empty(await LiveSessionsInIndexAsync(index, "cut-off"));
    }

    [Fact]
    public async Task A_create_whose_session_write_failed_is_dropped_from_the_live_list_when_it_is_read()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("half-made");
        store.WriteFault = (stateName, _) => stateName == SessionStorage.SessionStateName ? new InvalidOperationException("storage down") : null;
        await Assert.ThrowsAnyAsync<Exception>(() => user.CreateSessionAsync());
        store.WriteFault = null;

        Assert.Empty(await user.GetActiveSessionsAsync());
        var created = await user.CreateSessionAsync();
        Assert.Equal([created.SessionId], (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
        Assert.Equal(1, await user.CloseAllAsync());
    }

    [Fact]
    public async Task The_same_idempotency_key_returns_the_same_session_however_often_it_is_retried()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("retrier");

        var first = await user.CreateSessionAsync("key-1");
        time.Advance(TimeSpan.FromMinutes(1));
        var again = await user.CreateSessionAsync("key-1");
        var third = await user.CreateSessionAsync("key-1");
        var other = await user.CreateSessionAsync("key-2");
        var plain = await user.CreateSessionAsync();

        Assert.Equal(first.SessionId, again.SessionId);
        Assert.Equal(first.SessionId, third.SessionId);
        Assert.NotEqual(first.SessionId, other.SessionId);
        Assert.Equal([first.SessionId, other.SessionId, plain.SessionId], (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));

        // Another user's key is another key.
        var stranger = await cluster.Client.GetGrain<IUserSessionsGrain>("someone-else").CreateSessionAsync("key-1");
        Assert.NotEqual(first.SessionId, stranger.SessionId);
    }

    [Fact]
    public async Task A_retried_key_returns_its_session_as_it_is_now_even_after_it_ended()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("late-retry");
        var first = await user.CreateSessionAsync("k");
        await cluster.Client.GetGrain<ISessionGrain>(first.SessionId).CloseAsync();

        var again = await user.CreateSessionAsync("k");

        Assert.Equal(first.SessionId, again.SessionId);
        Assert.Equal(SessionStatus.Closed, again.Status);
        Assert.Empty(await user.GetActiveSessionsAsync());
    }

    [Fact]
    public async Task A_key_past_the_idempotency_window_creates_a_new_session()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>
        {
            ["Sessions:IdempotencyWindow"] = "00:10:00",
            ["Sessions:IdleTimeout"] = "01:00:00",
        });
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("window");
        var first = await user.CreateSessionAsync("k");
        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(first.SessionId, (await user.CreateSessionAsync("k")).SessionId);
        time.Advance(TimeSpan.FromMinutes(2));

        var later = await user.CreateSessionAsync("k");

        Assert.NotEqual(first.SessionId, later.SessionId);
        Assert.Equal(later.SessionId, (await user.CreateSessionAsync("k")).SessionId);
    }

    [Fact]
    public async Task A_create_cut_off_after_its_key_was_stored_is_finished_by_the_retry_under_the_same_id()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("resume");
        store.WriteFault = (stateName, _) => stateName == SessionStorage.SessionStateName ? new InvalidOperationException("storage down") : null;
        await Assert.ThrowsAnyAsync<Exception>(() => user.CreateSessionAsync("order-42"));
        store.WriteFault = null;

        var retried = await user.CreateSessionAsync("order-42");
        var again = await user.CreateSessionAsync("order-42");

        Assert.Equal(retried.SessionId, again.SessionId);
        Assert.Equal(SessionStatus.Active, retried.Status);
        Assert.Equal([retried.SessionId], (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
    }

    /// <summary>The live sessions of <paramref name="userId"/> the durable deadline index knows, over every partition.</summary>
    private static async Task<List<string>> LiveSessionsInIndexAsync(InMemorySessionDeadlineIndex index, string userId)
    {
        var ids = new List<string>();
        for (var partition = 0; partition < 8; partition++)
        {
            foreach (var entry in await index.ReadDueAsync(partition, DateTimeOffset.MaxValue, 10_000))
            {
                // The user's history-retention row is not a session's.
                if (entry.UserId == userId && DeadlineKeys.HistoryUser(entry.SessionId) is null)
                {
                    ids.Add(entry.SessionId);
                }
            }
        }
        return ids;
    }
}
