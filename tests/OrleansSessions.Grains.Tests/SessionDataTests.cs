using System.Text;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// Session data on the grains, on a fake clock: attributes, the conversation, their bounds and versions, data writes as
/// activity, and the data ending with the session on every end path, checked in storage.
/// </summary>
public sealed class SessionDataTests
{
    private static readonly Dictionary<string, string> Small = new()
    {
        ["Sessions:ConversationLimit"] = "5",
        ["Sessions:MaxConversationBytes"] = "2048",
        ["Sessions:MaxAttributesBytes"] = "300",
        ["Sessions:IdleTimeout"] = "00:10:00",
        ["Sessions:WarningBefore"] = "00:00:00",
    };

    private static NewSessionMessage User(string text) => new(MessageRoles.User, text);

    private static NewSessionMessage Reply(string text) => new(MessageRoles.Assistant, text);

    private static async Task<(InProcessTestCluster Cluster, FakeTimeProvider Time, SharedGrainStorage.Store Store)> StartAsync(
        IReadOnlyDictionary<string, string>? configuration = null)
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var cluster = await SessionCluster.StartAsync(time, configuration ?? Small, store: store);
        return (cluster, time, store);
    }

    /// <summary>The data records storage holds for <paramref name="sessionId"/> (message and attributes records).</summary>
    private static int DataRecords(SharedGrainStorage.Store store, string sessionId)
        => store.Records.Keys.Count(k => (k.Item1 == SessionStorage.MessagesStateName || k.Item1 == SessionStorage.AttributesStateName)
            && k.Item2.Key.ToString()!.StartsWith(sessionId + "/", StringComparison.Ordinal));

    private static int MessageRecords(SharedGrainStorage.Store store, string sessionId)
        => store.Records.Keys.Count(k => k.Item1 == SessionStorage.MessagesStateName && k.Item2.Key.ToString()!.StartsWith(sessionId + "/", StringComparison.Ordinal));

    private static Dictionary<string, string?> Set(params (string Key, string? Json)[] pairs)
        => pairs.ToDictionary(p => p.Key, p => p.Json, StringComparer.Ordinal);

    [Fact]
    public async Task Attributes_are_set_removed_and_versioned_and_a_stale_version_changes_nothing()
    {
        var (cluster, _, _) = await StartAsync();
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("attrs").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);

        var empty = await session.GetAttributesAsync();
        Assert.Equal(0, empty.DataVersion);
        Assert.Empty(empty.Attributes);

        var first = await session.UpdateAttributesAsync(Set(("locale", "\"es\""), ("topic", "{\"id\":7}")));
        Assert.Equal(1, first.DataVersion);
        Assert.Equal("\"es\"", first.Attributes["locale"]);

        var second = await session.UpdateAttributesAsync(Set(("locale", null), ("turns", "3")), ifVersion: 1);
        Assert.Equal(2, second.DataVersion);
        Assert.False(second.Attributes.ContainsKey("locale"));
        Assert.Equal("3", second.Attributes["turns"]);

        var conflict = await Assert.ThrowsAsync<SessionVersionConflictException>(() => session.UpdateAttributesAsync(Set(("turns", "4")), ifVersion: 1));
        Assert.Equal(2, conflict.CurrentVersion);
        var read = await session.GetAttributesAsync();
        Assert.Equal(2, read.DataVersion);
        Assert.Equal("3", read.Attributes["turns"]);
        Assert.Equal(2, (await session.GetAsync()).DataVersion);

        // Read again by a new activation: from storage.
        await SessionCluster.DeactivateAsync(cluster, session);
        var reloaded = await session.GetAttributesAsync();
        Assert.Equal(2, reloaded.DataVersion);
        Assert.Equal(["topic", "turns"], reloaded.Attributes.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Refused_attribute_writes_change_nothing_and_say_why()
    {
        var (cluster, _, _) = await StartAsync();
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("refused").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        await session.UpdateAttributesAsync(Set(("a", "1")));

        var badKey = await Assert.ThrowsAsync<InvalidSessionDataException>(() => session.UpdateAttributesAsync(Set(("a b", "1"))));
        Assert.Equal(InvalidSessionDataException.InvalidAttributeKey, badKey.Code);
        await Assert.ThrowsAsync<InvalidSessionDataException>(() => session.UpdateAttributesAsync(Set((new string('k', 129), "1"))));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => session.UpdateAttributesAsync(Set(("a", "not json"))));

        var tooLarge = await Assert.ThrowsAsync<SessionDataTooLargeException>(() => session.UpdateAttributesAsync(Set(("big", "\"" + new string('x', 300) + "\""))));
        Assert.Equal("Sessions:MaxAttributesBytes", tooLarge.Bound);
        Assert.Equal(300, tooLarge.Limit);
        Assert.DoesNotContain("xxxx", tooLarge.Message, StringComparison.Ordinal);

        var after = await session.GetAttributesAsync();
        Assert.Equal(1, after.DataVersion);
        Assert.Equal(["a"], after.Attributes.Keys);
    }

    [Fact]
    public async Task Appends_number_messages_slide_the_idle_deadline_and_reads_are_not_activity()
    {
        var (cluster, time, _) = await StartAsync();
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("append").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);

        time.Advance(TimeSpan.FromMinutes(4));
        var turn = await session.AppendMessagesAsync([User("hello"), Reply("hi there")]);
        Assert.Equal([1L, 2L], turn.Messages.Select(m => m.Id));
        Assert.All(turn.Messages, m => Assert.Equal(time.GetUtcNow(), m.At));
        Assert.Equal(1, turn.DataVersion);
        Assert.Equal(time.GetUtcNow(), turn.Session.LastActivity);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromMinutes(10), turn.Session.ExpiresAt);
        Assert.Equal(2, turn.Session.MessageCount);

        time.Advance(TimeSpan.FromMinutes(9));
        var read = await session.GetMessagesAsync();
        Assert.Equal(["hello", "hi there"], read.Messages.Select(m => m.Content));
        Assert.Equal(0, read.Trimmed);
        // Nine minutes later the read did not slide the deadline: one more minute ends the session.
        Assert.Equal(turn.Session.ExpiresAt, (await session.GetAsync()).ExpiresAt);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(await session.IsActiveAsync());
        await Assert.ThrowsAsync<SessionExpiredException>(() => session.AppendMessagesAsync([User("late")]));
    }

    [Fact]
    public async Task Reads_take_the_last_n_or_those_after_an_id()
    {
        var (cluster, _, _) = await StartAsync(new Dictionary<string, string>(Small) { ["Sessions:ConversationLimit"] = "50" });
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("reads").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        for (var i = 1; i <= 6; i++)
        {
            await session.AppendMessagesAsync([User("m" + i)]);
        }
        Assert.Equal(["m5", "m6"], (await session.GetMessagesAsync(limit: 2)).Messages.Select(m => m.Content));
        Assert.Equal(["m3", "m4"], (await session.GetMessagesAsync(limit: 2, after: 2)).Messages.Select(m => m.Content));
        Assert.Equal(["m5", "m6"], (await session.GetMessagesAsync(after: 4)).Messages.Select(m => m.Content));
        Assert.Empty((await session.GetMessagesAsync(after: 6)).Messages);
        await Assert.ThrowsAsync<ArgumentException>(() => session.GetMessagesAsync(limit: 0));
        await Assert.ThrowsAsync<ArgumentException>(() => session.GetMessagesAsync(after: -1));
    }

    [Fact]
    public async Task The_conversation_drops_its_oldest_messages_past_either_bound_and_clears_their_records()
    {
        var (cluster, _, store) = await StartAsync();
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("trim").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        for (var i = 1; i <= 4; i++)
        {
            await session.AppendMessagesAsync([User("q" + i), Reply("a" + i)]);
        }
        // Eight appended, limit 5: the three oldest dropped.
        var read = await session.GetMessagesAsync();
        Assert.Equal(3, read.Trimmed);
        Assert.Equal([4L, 5L, 6L, 7L, 8L], read.Messages.Select(m => m.Id));
        // Records of the first append (ids 1-2) are gone; the second's (3-4) still holds id 4.
        Assert.Equal(3, MessageRecords(store, created.SessionId));

        // A message of 1,500 bytes pushes out older ones by the byte bound (2,048) before the count bound.
        var big = await session.AppendMessagesAsync([User(new string('b', 1500))]);
        Assert.Equal(9, big.Messages.Single().Id);
        var afterBig = await session.GetMessagesAsync();
        Assert.True(afterBig.Messages.Sum(m => Encoding.UTF8.GetByteCount(m.Content) + m.Role.Length) <= 2048);
        Assert.Equal(9, afterBig.Messages[^1].Id);
        Assert.Equal(9 - afterBig.Messages.Count, afterBig.Trimmed);

        // One message larger than the whole bound is refused, and nothing changes.
        var refused = await Assert.ThrowsAsync<SessionDataTooLargeException>(() => session.AppendMessagesAsync([User(new string('x', 2100))]));
        Assert.Equal("Sessions:MaxConversationBytes", refused.Bound);
        Assert.Equal(afterBig.DataVersion, (await session.GetMessagesAsync()).DataVersion);

        // The same from storage, in a new activation.
        await SessionCluster.DeactivateAsync(cluster, session);
        var reloaded = await session.GetMessagesAsync();
        Assert.Equal(afterBig.Messages.Select(m => m.Id), reloaded.Messages.Select(m => m.Id));
        Assert.Equal(afterBig.Trimmed, reloaded.Trimmed);
    }

    [Fact]
    public async Task Malformed_messages_are_refused_with_invalid_message()
    {
        var (cluster, _, _) = await StartAsync();
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("malformed").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        foreach (var messages in new List<NewSessionMessage>[]
        {
            [],
            [new NewSessionMessage("robot", "hi")],
            [new NewSessionMessage(MessageRoles.User, null!)],
            [new NewSessionMessage(MessageRoles.User, "hi", "[1,2]")],
            [new NewSessionMessage(MessageRoles.User, "hi", "{broken")],
        })
        {
            var error = await Assert.ThrowsAsync<InvalidSessionDataException>(() => session.AppendMessagesAsync(messages));
            Assert.Equal(InvalidSessionDataException.InvalidMessage, error.Code);
        }
        var ok = await session.AppendMessagesAsync([new NewSessionMessage(MessageRoles.Tool, "42", "{\"tool\":\"calc\"}")]);
        Assert.Equal("{\"tool\":\"calc\"}", ok.Messages.Single().Metadata);
        Assert.Equal(1, ok.DataVersion);
    }

    [Fact]
    public async Task The_lifetime_state_holds_no_data_so_a_touch_does_not_rewrite_it()
    {
        var (cluster, _, store) = await StartAsync(new Dictionary<string, string>(Small) { ["Sessions:MaxConversationBytes"] = "262144", ["Sessions:ConversationLimit"] = "200" });
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("apart").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        await session.UpdateAttributesAsync(Set(("notes", "\"" + new string('n', 200) + "\"")));
        for (var i = 0; i < 20; i++)
        {
            await session.AppendMessagesAsync([User(new string('w', 1000))]);
        }
        var stateRecord = store.Records[(SessionStorage.SessionStateName, Orleans.Runtime.GrainId.Create("session", created.SessionId))];
        // 20 KB of messages and 200 B of attributes live in records of their own; the state keeps ids and sizes.
        Assert.True(stateRecord.Data.Length < 1024, $"session state is {stateRecord.Data.Length} bytes");
        Assert.Equal(20, MessageRecords(store, created.SessionId));
    }

    [Theory]
    [InlineData("close")]
    [InlineData("idle")]
    [InlineData("absolute")]
    [InlineData("logout_all")]
    [InlineData("evicted")]
    [InlineData("janitor")]
    public async Task The_data_ends_with_the_session_on_every_end_path(string path)
    {
        var configuration = new Dictionary<string, string>(Small)
        {
            ["Sessions:MaxPerUser"] = "1",
            ["Sessions:AbsoluteTimeout"] = "00:30:00",
        };
        var (cluster, time, store) = await StartAsync(configuration);
        await using var _ = cluster;
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("ends-" + path);
        var created = await user.CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        await session.UpdateAttributesAsync(Set(("k", "1")));
        await session.AppendMessagesAsync([User("words"), Reply("more words")]);
        Assert.Equal(2, DataRecords(store, created.SessionId));

        switch (path)
        {
            case "close":
                await session.CloseAsync();
                break;
            case "idle":
                time.Advance(TimeSpan.FromMinutes(11));
                break;
            case "absolute":
                for (var i = 0; i < 3; i++)
                {
                    time.Advance(TimeSpan.FromMinutes(8));
                    await session.TouchAsync();
                }
                time.Advance(TimeSpan.FromMinutes(8));
                break;
            case "logout_all":
                Assert.Equal(1, await user.CloseAllAsync());
                break;
            case "evicted":
                await user.CreateSessionAsync();
                break;
            case "janitor":
                // The activation is gone (as with a crashed silo): the janitor finds the deadline and ends it.
                await SessionCluster.DeactivateAsync(cluster, session);
                time.Advance(TimeSpan.FromMinutes(11));
                await SessionCluster.RunJanitorsAsync(cluster.Client);
                break;
        }

        await Wait.UntilAsync(async () => (await session.GetAsync()).Status != SessionStatus.Active && DataRecords(store, created.SessionId) == 0,
            what: $"{path}: session ended and its data records cleared");
        var ended = await session.GetAsync();
        Assert.Equal(path switch
        {
            "close" => EndReason.Logout,
            "idle" or "janitor" => EndReason.IdleTimeout,
            "absolute" => EndReason.AbsoluteTimeout,
            "logout_all" => EndReason.LogoutAll,
            _ => EndReason.Evicted,
        }, ended.EndReason);
        await Assert.ThrowsAsync<SessionDataDeletedException>(() => session.GetMessagesAsync());
        await Assert.ThrowsAsync<SessionDataDeletedException>(() => session.GetAttributesAsync());
        var write = await Assert.ThrowsAnyAsync<Exception>(() => session.AppendMessagesAsync([User("after the end")]));
        Assert.True(write is SessionExpiredException or SessionClosedException, write.GetType().Name);
        Assert.Equal(0, DataRecords(store, created.SessionId));
    }

    [Fact]
    public async Task Retained_data_is_readable_read_only_until_its_retention_ends_then_deleted_from_storage()
    {
        var (cluster, time, store) = await StartAsync(new Dictionary<string, string>(Small) { ["Sessions:DataRetention"] = "01:00:00" });
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("retained").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        await session.AppendMessagesAsync([User("keep me a while")]);
        await session.CloseAsync();

        Assert.Equal("keep me a while", (await session.GetMessagesAsync()).Messages.Single().Content);
        await Assert.ThrowsAsync<SessionClosedException>(() => session.AppendMessagesAsync([User("no")]));
        await Assert.ThrowsAsync<SessionClosedException>(() => session.UpdateAttributesAsync(Set(("a", "1"))));

        time.Advance(TimeSpan.FromMinutes(59));
        Assert.Single((await session.GetMessagesAsync()).Messages);
        Assert.Equal(1, DataRecords(store, created.SessionId));

        time.Advance(TimeSpan.FromMinutes(1));
        // Exact at the end of retention, whether or not the janitor has run.
        await Assert.ThrowsAsync<SessionDataDeletedException>(() => session.GetMessagesAsync());
        await SessionCluster.DeactivateAsync(cluster, session);
        await SessionCluster.RunJanitorsAsync(cluster.Client);
        await Wait.UntilAsync(() => DataRecords(store, created.SessionId) == 0, what: "retained records cleared by the janitor");
        await Assert.ThrowsAsync<SessionDataDeletedException>(() => session.GetMessagesAsync());
        Assert.Equal(SessionStatus.Closed, (await session.GetAsync()).Status);
    }

    [Fact]
    public async Task A_continued_session_starts_with_the_ended_ones_labels_attributes_and_last_messages()
    {
        var (cluster, time, _) = await StartAsync(new Dictionary<string, string>(Small)
        {
            ["Sessions:DataRetention"] = "01:00:00",
            ["Sessions:ConversationLimit"] = "50",
            ["Sessions:ContinueMessages"] = "3",
        });
        await using var _ = cluster;
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("comes-back");
        var first = await user.CreateSessionAsync(new SessionCreateRequest
        {
            Labels = new Dictionary<string, string> { ["channel"] = "web" },
            Attributes = new Dictionary<string, string> { ["locale"] = "\"es\"" },
        });
        var firstGrain = cluster.Client.GetGrain<ISessionGrain>(first.SessionId);
        for (var i = 1; i <= 5; i++)
        {
            await firstGrain.AppendMessagesAsync([User("m" + i)]);
        }

        var live = await Assert.ThrowsAsync<ContinuationNotAllowedException>(() => user.CreateSessionAsync(new SessionCreateRequest { ContinueFrom = first.SessionId }));
        Assert.Contains("live", live.Message, StringComparison.Ordinal);
        time.Advance(TimeSpan.FromMinutes(11));

        var other = cluster.Client.GetGrain<IUserSessionsGrain>("someone-else");
        await Assert.ThrowsAsync<ContinuationNotAllowedException>(() => other.CreateSessionAsync(new SessionCreateRequest { ContinueFrom = first.SessionId }));
        await Assert.ThrowsAsync<SessionNotFoundException>(() => user.CreateSessionAsync(new SessionCreateRequest { ContinueFrom = SessionKeys.NewSessionId() }));
        Assert.Empty(await other.GetActiveSessionsAsync());
        Assert.Empty(await user.GetActiveSessionsAsync());

        var second = await user.CreateSessionAsync(new SessionCreateRequest { ContinueFrom = first.SessionId, Labels = new Dictionary<string, string> { ["device"] = "phone" } });
        Assert.Equal(first.SessionId, second.PreviousSessionId);
        Assert.Equal("web", second.Labels!["channel"]);
        Assert.Equal("phone", second.Labels!["device"]);
        var secondGrain = cluster.Client.GetGrain<ISessionGrain>(second.SessionId);
        var messages = await secondGrain.GetMessagesAsync();
        Assert.Equal(["m3", "m4", "m5"], messages.Messages.Select(m => m.Content));
        Assert.Equal([1L, 2L, 3L], messages.Messages.Select(m => m.Id));
        Assert.Equal("\"es\"", (await secondGrain.GetAttributesAsync()).Attributes["locale"]);
        var turn = await secondGrain.AppendMessagesAsync([User("m6")]);
        Assert.Equal(4, turn.Messages.Single().Id);

        time.Advance(TimeSpan.FromHours(1));
        await Assert.ThrowsAsync<SessionDataDeletedException>(() => user.CreateSessionAsync(new SessionCreateRequest { ContinueFrom = first.SessionId }));
    }

    [Fact]
    public async Task Per_session_timeouts_and_labels_are_checked_and_kept()
    {
        var (cluster, time, _) = await StartAsync(new Dictionary<string, string>(Small) { ["Sessions:MaxAbsoluteTimeout"] = "2.00:00:00" });
        await using var _ = cluster;
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("timeouts");

        var idle = await Assert.ThrowsAsync<InvalidSessionDataException>(() => user.CreateSessionAsync(new SessionCreateRequest { IdleTimeout = TimeSpan.FromMinutes(11) }));
        Assert.Equal(InvalidSessionDataException.InvalidTimeout, idle.Code);
        await Assert.ThrowsAsync<InvalidSessionDataException>(() => user.CreateSessionAsync(new SessionCreateRequest { IdleTimeout = TimeSpan.FromMilliseconds(500) }));
        var labels = await Assert.ThrowsAsync<InvalidSessionDataException>(() => user.CreateSessionAsync(new SessionCreateRequest
        {
            Labels = Enumerable.Range(0, 17).ToDictionary(i => "k" + i, i => "v"),
        }));
        Assert.Equal(InvalidSessionDataException.InvalidLabels, labels.Code);
        await Assert.ThrowsAsync<InvalidSessionDataException>(() => user.CreateSessionAsync(new SessionCreateRequest { Labels = new Dictionary<string, string> { ["bad key"] = "v" } }));
        await Assert.ThrowsAsync<InvalidSessionDataException>(() => user.CreateSessionAsync(new SessionCreateRequest { Labels = new Dictionary<string, string> { ["k"] = new string('v', 257) } }));
        await Assert.ThrowsAsync<SessionDataTooLargeException>(() => user.CreateSessionAsync(new SessionCreateRequest
        {
            Attributes = new Dictionary<string, string> { ["big"] = "\"" + new string('x', 400) + "\"" },
        }));
        Assert.Empty(await user.GetActiveSessionsAsync());

        var created = await user.CreateSessionAsync(new SessionCreateRequest
        {
            IdleTimeout = TimeSpan.FromSeconds(30),
            AbsoluteTimeout = TimeSpan.FromDays(1),
            Labels = new Dictionary<string, string> { ["client"] = "cli" },
            Attributes = new Dictionary<string, string> { ["plan"] = "\"pro\"" },
        });
        Assert.Equal(TimeSpan.FromSeconds(30), created.IdleTimeout);
        Assert.Equal(TimeSpan.FromDays(1), created.AbsoluteTimeout);
        Assert.Equal(SessionCluster.Start + TimeSpan.FromSeconds(30), created.ExpiresAt);
        Assert.Equal(1, created.DataVersion);
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        Assert.Equal("\"pro\"", (await session.GetAttributesAsync()).Attributes["plan"]);

        var plain = await user.CreateSessionAsync();
        Assert.Equal(TimeSpan.FromMinutes(10), plain.IdleTimeout);
        Assert.Null(plain.Labels);

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(await session.IsActiveAsync());
        Assert.Equal(EndReason.IdleTimeout, (await session.GetAsync()).EndReason);
        Assert.True(await cluster.Client.GetGrain<ISessionGrain>(plain.SessionId).IsActiveAsync());
    }

    [Fact]
    public async Task Retained_data_leaves_with_the_session_when_its_user_history_forgets_it()
    {
        var (cluster, time, store) = await StartAsync(new Dictionary<string, string>(Small)
        {
            ["Sessions:DataRetention"] = "01:00:00",
            ["Sessions:HistoryLimit"] = "1",
        });
        await using var _ = cluster;
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("short-history");
        var first = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(first.SessionId).AppendMessagesAsync([User("old")]);
        await cluster.Client.GetGrain<ISessionGrain>(first.SessionId).CloseAsync();
        Assert.Equal(1, DataRecords(store, first.SessionId));

        time.Advance(TimeSpan.FromMinutes(1));
        var second = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(second.SessionId).CloseAsync();
        await SessionCluster.WaitUntilForgottenAsync(cluster.Client, first.SessionId);
        await Wait.UntilAsync(() => DataRecords(store, first.SessionId) == 0, what: "forgotten session's data records cleared");
    }
}
