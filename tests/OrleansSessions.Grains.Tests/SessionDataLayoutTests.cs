using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// How the conversation is laid out in storage: the session's stored state does not grow with it (the message records
/// form a chain the header only says the start of), records that hold no message held are cleared even when clearing is
/// cut short, and states stored in the layout before the chain (a size per message, a first id per record) still read.
/// </summary>
public sealed class SessionDataLayoutTests(ITestOutputHelper output)
{
    private static NewSessionMessage User(string text) => new(MessageRoles.User, text);

    private static NewSessionMessage Reply(string text) => new(MessageRoles.Assistant, text);

    private static async Task<(InProcessTestCluster Cluster, FakeTimeProvider Time, SharedGrainStorage.Store Store)> StartAsync(int conversationLimit)
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>
        {
            ["Sessions:ConversationLimit"] = conversationLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Sessions:MaxConversationBytes"] = "262144",
            ["Sessions:IdleTimeout"] = "00:10:00",
            ["Sessions:WarningBefore"] = "00:00:00",
        }, store: store);
        return (cluster, time, store);
    }

    private static (string, GrainId) StateKey(string sessionId) => (SessionStorage.SessionStateName, GrainId.Create("session", sessionId));

    private static (string, GrainId) MessagesKey(string sessionId, long firstId) => (SessionStorage.MessagesStateName, SessionDataRecords.MessagesId(sessionId, firstId));

    /// <summary>The first ids of the message records storage holds for <paramref name="sessionId"/>, ascending.</summary>
    private static List<long> MessageRecords(SharedGrainStorage.Store store, string sessionId)
        => store.Records.Keys
            .Where(k => k.StateName == SessionStorage.MessagesStateName && k.GrainId.Key.ToString()!.StartsWith(sessionId + "/", StringComparison.Ordinal))
            .Select(k => long.Parse(k.GrainId.Key.ToString()![(sessionId.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture))
            .Order()
            .ToList();

    private static int DataRecords(SharedGrainStorage.Store store, string sessionId)
        => store.Records.Keys.Count(k => (k.StateName == SessionStorage.MessagesStateName || k.StateName == SessionStorage.AttributesStateName)
            && k.GrainId.Key.ToString()!.StartsWith(sessionId + "/", StringComparison.Ordinal));

    private static SessionState StoredState(InProcessTestCluster cluster, SharedGrainStorage.Store store, string sessionId)
        => Serializer(cluster).Deserialize<SessionState>(store.Records[StateKey(sessionId)].Data)!;

    private static Serializer Serializer(InProcessTestCluster cluster) => cluster.Silos[0].ServiceProvider.GetRequiredService<Serializer>();

    /// <summary>The stored state's size as the durable providers write it (Orleans' JSON grain storage serializer) and as the test storage does (Orleans' serializer).</summary>
    private static (int Json, int Binary) StateSizes(InProcessTestCluster cluster, SharedGrainStorage.Store store, string sessionId)
    {
        var json = cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainStorageSerializer>();
        return (json.Serialize(StoredState(cluster, store, sessionId)).ToArray().Length, store.Records[StateKey(sessionId)].Data.Length);
    }

    /// <summary>Makes clearing the record of <paramref name="key"/> fail: its ETag no longer matches and the read that would learn it fails.</summary>
    private static void BreakClearing(SharedGrainStorage.Store store, (string, GrainId) key)
    {
        store.Records[key] = store.Records[key] with { ETag = "changed-behind-its-back" };
        store.ReadFault = (stateName, grainId) => (stateName, grainId) == key ? new TimeoutException("storage timed out (injected)") : null;
    }

    private static void MendClearing(SharedGrainStorage.Store store) => store.ReadFault = null;

    [Fact]
    public async Task The_stored_state_does_not_grow_between_10_and_190_messages_nor_once_the_oldest_are_dropped()
    {
        var (cluster, _, store) = await StartAsync(conversationLimit: 200);
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("long-chat").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        var turn = 0;
        async Task TurnsAsync(int count)
        {
            for (var i = 0; i < count; i++, turn++)
            {
                await session.AppendMessagesAsync([User("question " + turn + new string('q', 80)), Reply("answer " + turn + new string('a', 80))]);
            }
        }

        await TurnsAsync(5);
        var at10 = StateSizes(cluster, store, created.SessionId);
        await TurnsAsync(90);
        Assert.Equal(190, (await session.GetAsync()).MessageCount);
        var at190 = StateSizes(cluster, store, created.SessionId);
        // Only numbers grow (ids, version, byte count: a few more digits); a size or id per message or record would add
        // at least one byte for each of the 180 more messages.
        Assert.True(at190.Json <= at10.Json + 16, $"stored state as JSON: {at10.Json} B at 10 messages, {at190.Json} B at 190");
        Assert.True(at190.Binary <= at10.Binary + 16, $"stored state: {at10.Binary} B at 10 messages, {at190.Binary} B at 190");

        // Past the bound (200) every append drops the two oldest messages and clears the record that held them.
        await TurnsAsync(50);
        var trimmed = StateSizes(cluster, store, created.SessionId);
        output.WriteLine($"stored session state (JSON / Orleans binary): at 10 messages {at10.Json} / {at10.Binary} B, at 190 {at190.Json} / {at190.Binary} B, at 200 of 290 {trimmed.Json} / {trimmed.Binary} B");
        Assert.True(trimmed.Json <= at10.Json + 32, $"stored state as JSON: {at10.Json} B at 10 messages, {trimmed.Json} B at 200 of 290");
        Assert.True(trimmed.Binary <= at10.Binary + 16, $"stored state: {at10.Binary} B at 10 messages, {trimmed.Binary} B at 200 of 290");
        Assert.Equal(Enumerable.Range(0, 100).Select(i => 91L + 2 * i), MessageRecords(store, created.SessionId));
        // The record the last append emptied (89) was cleared after its write: the chain's start moves past it with the next.
        var header = StoredState(cluster, store, created.SessionId).Data!;
        Assert.Equal((89L, 91L, 90L, 290L), (header.ChainStart, header.ReadFrom, header.Trimmed, header.LastMessageId));
        await session.TouchAsync();
        Assert.Equal(91L, StoredState(cluster, store, created.SessionId).Data!.ChainStart);

        // A new activation reads the chain from storage.
        await SessionCluster.DeactivateAsync(cluster, session);
        var read = await session.GetMessagesAsync();
        Assert.Equal(Enumerable.Range(91, 200).Select(i => (long)i), read.Messages.Select(m => m.Id));
        Assert.Equal("question 45" + new string('q', 80), read.Messages[0].Content);
        Assert.Equal(90, read.Trimmed);
        Assert.Equal(200, (await session.GetAsync()).MessageCount);
    }

    [Fact]
    public async Task Appends_that_drop_messages_in_a_new_activation_learn_the_chain_and_keep_the_bounds()
    {
        var (cluster, _, store) = await StartAsync(conversationLimit: 5);
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("reactivated").CreateSessionAsync();
        var session = cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        await session.AppendMessagesAsync([User("1"), Reply("2"), User("3")]);
        await session.AppendMessagesAsync([Reply("4")]);

        // Each append by a new activation, which knows only the stored header.
        foreach (var (text, firstHeld, records) in new[]
        {
            ("5", 1L, new long[] { 1, 4, 5 }),
            ("6", 2L, new long[] { 1, 4, 5, 6 }),
            ("7", 3L, new long[] { 1, 4, 5, 6, 7 }),
            ("8", 4L, new long[] { 4, 5, 6, 7, 8 }),
        })
        {
            await SessionCluster.DeactivateAsync(cluster, session);
            await session.AppendMessagesAsync([User(text)]);
            Assert.Equal(records, MessageRecords(store, created.SessionId));
            var header = StoredState(cluster, store, created.SessionId).Data!;
            Assert.Equal(firstHeld, header.FirstHeldId());
            Assert.Equal(records[0], header.ReadFrom);
        }
        await SessionCluster.DeactivateAsync(cluster, session);
        Assert.Equal(["4", "5", "6", "7", "8"], (await session.GetMessagesAsync()).Messages.Select(m => m.Content));

        await session.CloseAsync();
        await Wait.UntilAsync(() => DataRecords(store, created.SessionId) == 0, what: "records cleared at the end");
    }

    [Fact]
    public async Task A_new_activation_reads_only_the_records_its_appends_drop()
    {
        var (cluster, _, store) = await StartAsync(conversationLimit: 200);
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("full-chat").CreateSessionAsync();
        var id = created.SessionId;
        var session = cluster.Client.GetGrain<ISessionGrain>(id);
        for (var i = 1; i <= 200; i += 2)
        {
            await session.AppendMessagesAsync([User("m" + i), Reply("m" + (i + 1))]);
        }
        await SessionCluster.DeactivateAsync(cluster, session);

        var reads = 0;
        store.ReadFault = (stateName, _) =>
        {
            if (stateName == SessionStorage.MessagesStateName)
            {
                Interlocked.Increment(ref reads);
            }
            return null;
        };
        // Each append drops the two messages of the oldest record: it reads that record, not the other 99.
        for (var i = 201; i <= 220; i += 2)
        {
            await session.AppendMessagesAsync([User("m" + i), Reply("m" + (i + 1))]);
            Assert.Equal((i - 199) / 2, Volatile.Read(ref reads));
        }
        store.ReadFault = null;
        await session.TouchAsync();
        Assert.Equal(Enumerable.Range(0, 100).Select(i => 21L + 2 * i), MessageRecords(store, id));
        var header = StoredState(cluster, store, id).Data!;
        Assert.Equal((21L, 21L, 20L, 220L), (header.ChainStart, header.ReadFrom, header.Trimmed, header.LastMessageId));
        Assert.Equal(Enumerable.Range(21, 200).Select(i => "m" + i), (await session.GetMessagesAsync()).Messages.Select(m => m.Content));
    }

    [Fact]
    public async Task Records_whose_clearing_fails_stay_named_and_are_cleared_later_by_this_or_a_new_activation()
    {
        var (cluster, _, store) = await StartAsync(conversationLimit: 4);
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("clear-fails").CreateSessionAsync();
        var id = created.SessionId;
        var session = cluster.Client.GetGrain<ISessionGrain>(id);
        await session.AppendMessagesAsync([User("1"), Reply("2")]);
        await session.AppendMessagesAsync([User("3"), Reply("4")]);
        Assert.Equal(4, (await session.GetMessagesAsync()).Messages.Count);

        // The third append drops 1 and 2: clearing their record fails, so it stays, named by the stored state.
        BreakClearing(store, MessagesKey(id, 1));
        await session.AppendMessagesAsync([User("5"), Reply("6")]);
        Assert.Equal([1L, 3L, 5L], MessageRecords(store, id));
        // The fourth drops 3 and 4; the reads stay where they were until the older record is gone, so nothing stored is
        // left unnamed whatever happens next.
        await session.AppendMessagesAsync([User("7"), Reply("8")]);
        Assert.Equal([1L, 3L, 5L, 7L], MessageRecords(store, id));
        var header = StoredState(cluster, store, id).Data!;
        Assert.Equal((1L, 3L, 4L), (header.ChainStart, header.ReadFrom, header.Trimmed));

        // A new activation finds record 1 by walking from the chain's start.
        await SessionCluster.DeactivateAsync(cluster, session);
        MendClearing(store);
        Assert.Equal(["5", "6", "7", "8"], (await session.GetMessagesAsync()).Messages.Select(m => m.Content));
        await session.AppendMessagesAsync([User("9"), Reply("10")]);
        Assert.Equal([7L, 9L], MessageRecords(store, id));
        header = StoredState(cluster, store, id).Data!;
        Assert.Equal((7L, 6L), (header.ReadFrom, header.Trimmed));
        await session.TouchAsync();
        Assert.Equal(7L, StoredState(cluster, store, id).Data!.ChainStart);
        Assert.Equal(["7", "8", "9", "10"], (await session.GetMessagesAsync()).Messages.Select(m => m.Content));
    }

    [Fact]
    public async Task An_end_whose_clearing_is_cut_short_leaves_records_the_janitor_finds_and_clears()
    {
        var (cluster, time, store) = await StartAsync(conversationLimit: 200);
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("end-cut-short").CreateSessionAsync();
        var id = created.SessionId;
        var session = cluster.Client.GetGrain<ISessionGrain>(id);
        await session.UpdateAttributesAsync(new Dictionary<string, string?> { ["k"] = "1" });
        for (var i = 0; i < 4; i++)
        {
            await session.AppendMessagesAsync([User("q" + i), Reply("a" + i)]);
        }
        // A read: the activation now knows every record and clears them without reading them again.
        Assert.Equal(8, (await session.GetMessagesAsync()).Messages.Count);

        // Clearing stops at record 5: the newer (7) is cleared, the older (1, 3, 5) stay.
        BreakClearing(store, MessagesKey(id, 5));
        Assert.Equal(SessionStatus.Closed, (await session.CloseAsync()).Status);
        await Wait.UntilAsync(() => MessageRecords(store, id).SequenceEqual([1L, 3L, 5L]), what: "end's clearing cut short at record 5");

        // The janitor, past the session's old deadline, finds the ended session and what is left of its records.
        MendClearing(store);
        await SessionCluster.DeactivateAsync(cluster, session);
        time.Advance(TimeSpan.FromMinutes(11));
        await SessionCluster.RunJanitorsAsync(cluster.Client);
        await Wait.UntilAsync(() => DataRecords(store, id) == 0, what: "records cleared by the janitor");
        await Assert.ThrowsAsync<SessionDataDeletedException>(() => session.GetMessagesAsync());
    }

    [Fact]
    public async Task A_state_stored_in_the_layout_before_the_chain_is_read_converted_and_cleared_at_the_end()
    {
        var (cluster, _, store) = await StartAsync(conversationLimit: 5);
        await using var _ = cluster;
        var created = await cluster.Client.GetGrain<IUserSessionsGrain>("old-layout").CreateSessionAsync();
        var id = created.SessionId;
        var session = cluster.Client.GetGrain<ISessionGrain>(id);
        await SessionCluster.DeactivateAsync(cluster, session);

        // What that layout stored after five appends of two (ids 1-10) with a bound of 5: ids 6-10 held, a size each;
        // the records 1, 3, 5, 7, 9 all listed. Record 1 was cleared after the last write, 3 not yet (a crash).
        var serializer = Serializer(cluster);
        var at = SessionCluster.Start;
        var sizes = new List<int>();
        foreach (var first in new long[] { 3, 5, 7, 9 })
        {
            var messages = new List<SessionMessage> { new(first, MessageRoles.User, "m" + first, at), new(first + 1, MessageRoles.Assistant, "m" + (first + 1), at) };
            store.Records[MessagesKey(id, first)] = new SharedGrainStorage.Record(serializer.SerializeToArray(new SessionMessageChunk { Messages = messages }), "etag-" + first);
            sizes.AddRange(messages.Where(m => m.Id >= 6).Select(SessionDataRules.SizeOf));
        }
        store.Records[(SessionStorage.AttributesStateName, SessionDataRecords.AttributesId(id, 1))] = new SharedGrainStorage.Record(
            serializer.SerializeToArray(new SessionAttributesRecord { Values = new Dictionary<string, string>(StringComparer.Ordinal) { ["k"] = "1" } }), "etag-attributes");
        var state = StoredState(cluster, store, id);
#pragma warning disable CS0618 // the layout before the chain
        state.Data = new SessionDataHeader
        {
            Version = 6,
            LastMessageId = 10,
            Trimmed = 5,
            Sizes = sizes,
            Bytes = sizes.Sum(),
            Chunks = [1, 3, 5, 7, 9],
            AttributesSlot = 1,
            AttributesBytes = 9,
        };
#pragma warning restore CS0618
        store.Records[StateKey(id)] = new SharedGrainStorage.Record(serializer.SerializeToArray(state), "etag-state");
        Assert.Equal([3L, 5L, 7L, 9L], MessageRecords(store, id));

        var read = await session.GetMessagesAsync();
        Assert.Equal(["m6", "m7", "m8", "m9", "m10"], read.Messages.Select(m => m.Content));
        Assert.Equal((5L, 6L), (read.Trimmed, read.DataVersion));
        Assert.Equal(5, (await session.GetAsync()).MessageCount);
        Assert.Equal("1", (await session.GetAttributesAsync()).Attributes["k"]);
        // The record no message of which is held is cleared on activation.
        Assert.Equal([5L, 7L, 9L], MessageRecords(store, id));

        // An append drops 6 and 7: record 5 goes; the state is written in the chain's layout.
        var turn = await session.AppendMessagesAsync([User("m11"), Reply("m12")]);
        Assert.Equal([11L, 12L], turn.Messages.Select(m => m.Id));
        Assert.Equal([7L, 9L, 11L], MessageRecords(store, id));
        var header = StoredState(cluster, store, id).Data!;
#pragma warning disable CS0618
        Assert.Null(header.Sizes);
        Assert.Null(header.Chunks);
#pragma warning restore CS0618
        Assert.Equal((5L, 7L, 12L, 8L), (header.ChainStart, header.ReadFrom, header.LastMessageId, header.FirstHeldId()));
        Assert.Equal(sizes.Skip(2).Sum() + turn.Messages.Sum(SessionDataRules.SizeOf), header.Bytes);

        await SessionCluster.DeactivateAsync(cluster, session);
        Assert.Equal(["m8", "m9", "m10", "m11", "m12"], (await session.GetMessagesAsync()).Messages.Select(m => m.Content));
        await session.CloseAsync();
        await Wait.UntilAsync(() => DataRecords(store, id) == 0, what: "records cleared at the end");
    }

    [Fact]
    public async Task A_header_of_the_layout_before_the_chain_is_read_from_the_json_the_durable_providers_stored()
    {
        var (cluster, _, _) = await StartAsync(conversationLimit: 5);
        await using var _ = cluster;
        var json = cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainStorageSerializer>();
        // As Orleans' JSON grain storage serializer wrote the header before the chain (lists always present).
        const string stored = """
            {"$id":"1","$type":"OrleansSessions.Grains.SessionDataHeader, OrleansSessions.Grains","Version":6,"LastMessageId":10,"Trimmed":5,
             "Sizes":{"$type":"System.Collections.Generic.List`1[[System.Int32, System.Private.CoreLib]], System.Private.CoreLib","$values":[7,7,7,7,8]},
             "Bytes":36,
             "Chunks":{"$type":"System.Collections.Generic.List`1[[System.Int64, System.Private.CoreLib]], System.Private.CoreLib","$values":[1,3,5,7,9]},
             "AttributesSlot":1,"AttributesBytes":9,"FirstHeldId":6,"HasRecords":true}
            """;
        var header = json.Deserialize<SessionDataHeader>(BinaryData.FromString(stored))!;
        var chain = header.UpgradeLegacyLayout();

        Assert.NotNull(chain);
        Assert.Equal([1L, 3L], chain.Dead);
        Assert.Equal([5L, 7L, 9L], chain.Records);
        Assert.Equal([7, 7, 7, 7, 8], chain.Sizes);
        Assert.Equal((1L, 5L, 6L, 5L, 36L), (header.ChainStart, header.ReadFrom, header.FirstHeldId(), header.HeldCount(), header.Bytes));
        Assert.Null(header.UpgradeLegacyLayout());
        // Written again: neither list, and nothing that grows with the conversation.
        var written = json.Serialize(header).ToString();
        Assert.DoesNotContain("Sizes", written, StringComparison.Ordinal);
        Assert.DoesNotContain("Chunks", written, StringComparison.Ordinal);
        Assert.DoesNotContain("FirstHeld", written, StringComparison.Ordinal);
        var back = json.Deserialize<SessionDataHeader>(BinaryData.FromString(written))!;
        Assert.Null(back.UpgradeLegacyLayout());
        Assert.Equal((1L, 5L, 10L, 5L, 36L, 6L), (back.ChainStart, back.ReadFrom, back.LastMessageId, back.Trimmed, back.Bytes, back.Version));
    }
}
