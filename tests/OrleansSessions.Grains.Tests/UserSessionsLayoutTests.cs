using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.Serialization;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>How a user's live list is stored: a bounded header and sealed pages, so a change costs what changed.</summary>
public sealed class UserSessionsLayoutTests
{
    private const int HeaderLimitBytes = 16 * 1024;

    [Fact]
    public async Task A_user_with_a_thousand_live_sessions_keeps_a_bounded_header_and_writes_only_what_changed()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("heavy");
        var ids = new List<string>();
        for (var i = 0; i < 1_000; i++)
        {
            ids.Add((await user.CreateSessionAsync()).SessionId);
        }
        var header = (SessionStorage.UserStateName, GrainId.Create("user-sessions", "heavy"));
        Assert.InRange(store.Records[header].Data.Length, 1, HeaderLimitBytes);

        // A create writes the header (and, once per page, the sealed page); an end writes the header and the one page
        // holding the id: each bounded, whatever the user's count.
        var written = new List<(string StateName, GrainId GrainId)>();
        store.WriteFault = (stateName, grainId) =>
        {
            lock (written)
            {
                written.Add((stateName, grainId));
            }
            return null;
        };
        ids.Add((await user.CreateSessionAsync()).SessionId);
        lock (written)
        {
            Assert.Contains(written, w => w.StateName == SessionStorage.UserStateName);
            Assert.DoesNotContain(written, w => w.StateName != SessionStorage.UserStateName && w.StateName != SessionStorage.SessionStateName);
            written.Clear();
        }
        await cluster.Client.GetGrain<ISessionGrain>(ids[3]).CloseAsync();
        await Wait.UntilAsync(() =>
        {
            lock (written)
            {
                return written.Exists(w => w.StateName == SessionStorage.UserPageStateName);
            }
        });
        lock (written)
        {
            var pages = written.Where(w => w.StateName == SessionStorage.UserPageStateName).Select(w => w.GrainId).Distinct().ToList();
            Assert.Single(pages);
            Assert.Contains(written, w => w.StateName == SessionStorage.UserStateName);
            Assert.InRange(store.Records[(SessionStorage.UserPageStateName, pages[0])].Data.Length, 1, HeaderLimitBytes);
        }
        store.WriteFault = null;
        Assert.InRange(store.Records[header].Data.Length, 1, HeaderLimitBytes);

        // A new activation loads the pages: the same live sessions, oldest first.
        await SessionCluster.DeactivateAsync(cluster, user);
        ids.RemoveAt(3);
        Assert.Equal(ids, (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
    }

    [Fact]
    public async Task Live_sessions_are_read_in_pages_oldest_first_and_a_cursor_survives_the_end_of_its_session()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("pager");
        var ids = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            ids.Add((await user.CreateSessionAsync()).SessionId);
        }

        var first = await user.GetActiveSessionsPageAsync(100, null);
        Assert.Equal(ids.Take(100), first.Sessions.Select(s => s.SessionId));
        Assert.Equal(300, first.Total);
        Assert.Equal(ids[99], first.Next);

        // The cursor's own session and the next one end before the next page is read.
        await cluster.Client.GetGrain<ISessionGrain>(ids[99]).CloseAsync();
        await cluster.Client.GetGrain<ISessionGrain>(ids[100]).CloseAsync();
        var second = await user.GetActiveSessionsPageAsync(100, first.Next);
        Assert.Equal(ids.Skip(101).Take(100), second.Sessions.Select(s => s.SessionId));
        Assert.Equal(298, second.Total);
        var third = await user.GetActiveSessionsPageAsync(100, second.Next);
        Assert.Equal(ids.Skip(201), third.Sessions.Select(s => s.SessionId));
        Assert.Null(third.Next);

        await Assert.ThrowsAsync<ArgumentException>(() => user.GetActiveSessionsPageAsync(0, null));
        await Assert.ThrowsAsync<ArgumentException>(() => user.GetActiveSessionsPageAsync(SessionPage.MaxLimit + 1, null));
        await Assert.ThrowsAsync<ArgumentException>(() => user.GetActiveSessionsPageAsync(10, SessionKeys.NewSessionId()));
        var empty = await cluster.Client.GetGrain<IUserSessionsGrain>("nobody").GetActiveSessionsPageAsync(10, null);
        Assert.Empty(empty.Sessions);
        Assert.Equal(0, empty.Total);
        Assert.Null(empty.Next);
    }

    [Fact]
    public async Task A_record_of_the_old_layout_loads_and_is_sealed_into_pages_at_its_next_create()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("legacy");
        var ids = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            ids.Add((await user.CreateSessionAsync()).SessionId);
        }
        // Rewrite it as the old layout stored it: every live id in the header, no pages.
        await SessionCluster.DeactivateAsync(cluster, user);
        var serializer = cluster.Silos[0].ServiceProvider.GetRequiredService<Serializer>();
        var header = (SessionStorage.UserStateName, GrainId.Create("user-sessions", "legacy"));
        var old = serializer.Deserialize<UserSessionsState>(store.Records[header].Data) ?? new UserSessionsState();
        old.ActiveSessionIds = [.. ids];
        old.Pages = [];
        old.NextPage = 0;
        foreach (var key in store.Records.Keys.Where(k => k.StateName == SessionStorage.UserPageStateName).ToList())
        {
            store.Records.TryRemove(key, out _);
        }
        store.Records[header] = new SharedGrainStorage.Record(serializer.SerializeToArray(old), store.Records[header].ETag);

        Assert.Equal(ids, (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
        ids.Add((await user.CreateSessionAsync()).SessionId);

        Assert.InRange(store.Records[header].Data.Length, 1, HeaderLimitBytes);
        Assert.Equal(2, store.Records.Keys.Count(k => k.StateName == SessionStorage.UserPageStateName));
        await SessionCluster.DeactivateAsync(cluster, user);
        Assert.Equal(ids, (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
        Assert.Equal(ids.Count, await user.CloseAllAsync());
        Assert.DoesNotContain(store.Records.Keys, k => k.StateName == SessionStorage.UserPageStateName);
    }

    [Fact]
    public async Task Retention_deletes_the_user_record_with_its_pages()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string> { ["Sessions:HistoryRetention"] = "1.00:00:00" }, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("leaver");
        for (var i = 0; i < 200; i++)
        {
            await user.CreateSessionAsync();
        }
        Assert.Contains(store.Records.Keys, k => k.StateName == SessionStorage.UserPageStateName);
        Assert.Equal(200, await user.CloseAllAsync());
        time.Advance(TimeSpan.FromDays(2));

        await SessionCluster.RunJanitorsAsync(cluster.Client);

        await Wait.UntilAsync(() => !store.Records.Keys.Any(k => k.StateName is SessionStorage.UserStateName or SessionStorage.UserPageStateName));
    }

    [Theory]
    [InlineData(SessionStorage.UserPageStateName)]
    [InlineData(SessionStorage.UserStateName)]
    public async Task A_create_cut_off_while_sealing_a_page_loses_no_live_session(string failingState)
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("sealer");
        var ids = new List<string>();
        for (var i = 0; i < LiveSessionList.TailLimit; i++)
        {
            ids.Add((await user.CreateSessionAsync()).SessionId);
        }

        // The next create seals the full tail: page first, then the header. Cut off at either write, as if its silo died.
        store.WriteFault = (stateName, _) => stateName == failingState ? new InvalidOperationException("storage down") : null;
        await Assert.ThrowsAnyAsync<Exception>(() => user.CreateSessionAsync());
        store.WriteFault = null;
        await SessionCluster.DeactivateAsync(cluster, user);

        Assert.Equal(ids, (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
        // The seal goes through at the next create (over an orphaned page, if one was written).
        ids.Add((await user.CreateSessionAsync()).SessionId);
        await SessionCluster.DeactivateAsync(cluster, user);
        Assert.Equal(ids, (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
        Assert.Equal(ids.Count, await user.CloseAllAsync());
        Assert.Empty(await user.GetActiveSessionsAsync());
    }
}
