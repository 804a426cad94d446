using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// History retention through the deadline index: one row per idle user with history, swept by the janitor partitions,
/// and no Orleans reminder per user (records of earlier versions lose theirs).
/// </summary>
public sealed class HistoryRetentionIndexTests
{
    private static readonly TimeSpan Retention = TimeSpan.FromDays(1);
    private static readonly Dictionary<string, string> OneDayRetention = new() { ["Sessions:HistoryRetention"] = "1.00:00:00" };

    [Fact]
    public async Task Reminders_stay_one_per_janitor_partition_however_many_users_wait_for_retention()
    {
        const int Users = 50;
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, index: index);
        var table = cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>();
        // The janitor partitions' reminders are registered by a startup task.
        await Wait.UntilAsync(async () => (await AllRemindersAsync(table)).Count(IsJanitorReminder) == 8);
        var before = (await AllRemindersAsync(table)).Count;

        var ids = Enumerable.Range(0, Users).Select(i => $"idle-{i:D2}").ToList();
        foreach (var userId in ids)
        {
            var user = cluster.Client.GetGrain<IUserSessionsGrain>(userId);
            var session = await user.CreateSessionAsync();
            await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        }
        foreach (var userId in ids)
        {
            await Wait.UntilAsync(async () => (await cluster.Client.GetGrain<IUserSessionsGrain>(userId).GetHistoryAsync(10)).Count == 1, what: $"{userId}'s history");
        }

        // Every user waits for its retention, each with its row in the index and none with a reminder.
        foreach (var userId in ids)
        {
            Assert.NotNull(await SessionCluster.HistoryRowAsync(index, userId));
        }
        var reminders = await AllRemindersAsync(table);
        Assert.Equal(8, before);
        Assert.Equal(before, reminders.Count);
        Assert.All(reminders, reminder => Assert.True(IsJanitorReminder(reminder), $"{reminder.GrainId} has reminder {reminder.ReminderName}"));
    }

    [Fact]
    public async Task The_janitor_drops_expired_history_deletes_the_record_and_removes_the_row()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, index: index, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("leaving");
        var session = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        var header = (SessionStorage.UserStateName, GrainId.Create("user-sessions", "leaving"));
        var sessionRecord = (SessionStorage.SessionStateName, GrainId.Create("session", session.SessionId));
        // No read of the history past its retention in between: the janitor alone drops it.
        await SessionCluster.DeactivateAsync(cluster, user);

        time.Advance(Retention + TimeSpan.FromMinutes(1));
        await SessionCluster.RunJanitorsAsync(cluster.Client);

        Assert.Null(await SessionCluster.HistoryRowAsync(index, "leaving"));
        Assert.False(store.Records.ContainsKey(header));
        await Wait.UntilAsync(() => !store.Records.ContainsKey(sessionRecord));
        await Wait.UntilAsync(async () => await SessionCluster.ActivationCountAsync<UserSessionsGrain>(cluster) == 0);
        Assert.Empty(await user.GetHistoryAsync(10));
        await Assert.ThrowsAsync<SessionNotFoundException>(async () => await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).GetAsync());
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public async Task The_row_waits_in_the_index_until_the_oldest_entry_expires_then_moves_to_the_next()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, index: index, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("waiting");
        var first = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(first.SessionId).CloseAsync();
        time.Advance(TimeSpan.FromHours(6));
        var second = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(second.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 2);
        var history = await user.GetHistoryAsync(10);

        // One row, in the janitor partition of its key, due when the oldest entry expires.
        var key = DeadlineKeys.History("waiting");
        var partition = SessionDeadlinePartitioner.GetPartition(key, 8);
        var row = Assert.Single(await index.ReadDueAsync(partition, DateTimeOffset.MaxValue, 100), r => r.SessionId == key);
        Assert.Equal("waiting", row.UserId);
        Assert.Equal(history[1].EndedAt + Retention, row.Deadline);
        Assert.Empty(await index.ReadDueAsync(partition, time.GetUtcNow(), 100));
        Assert.Equal(row.Deadline, ReadStoredState(cluster, store, "waiting").RetentionDue);

        // Not due yet: the janitor leaves it.
        time.Advance(TimeSpan.FromHours(17));
        await SessionCluster.RunJanitorsAsync(cluster.Client);
        Assert.Equal(row, await SessionCluster.HistoryRowAsync(index, "waiting"));

        // Due: the oldest entry goes, the row moves to the next.
        time.Advance(TimeSpan.FromHours(2));
        await SessionCluster.DeactivateAsync(cluster, user);
        await SessionCluster.RunJanitorsAsync(cluster.Client);
        Assert.Equal(history[0].EndedAt + Retention, (await SessionCluster.HistoryRowAsync(index, "waiting"))?.Deadline);
        var left = ReadStoredState(cluster, store, "waiting");
        Assert.Equal(second.SessionId, Assert.Single(left.History).SessionId);
        Assert.Equal(history[0].EndedAt + Retention, left.RetentionDue);
        Assert.Equal(second.SessionId, Assert.Single(await user.GetHistoryAsync(10)).SessionId);
    }

    [Fact]
    public async Task A_row_whose_user_has_no_record_is_removed_and_leaves_no_record_or_activation()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, index: index, store: store);
        // A row left behind (its removal failed after the record was deleted).
        var key = DeadlineKeys.History("nobody");
        await index.UpsertAsync(key, "nobody", time.GetUtcNow(), SessionDeadlinePartitioner.GetPartition(key, 8));

        await SessionCluster.RunJanitorsAsync(cluster.Client);
        await SessionCluster.RunJanitorsAsync(cluster.Client);

        Assert.Null(await SessionCluster.HistoryRowAsync(index, "nobody"));
        Assert.DoesNotContain(store.Records.Keys, k => k.StateName == SessionStorage.UserStateName);
        await Wait.UntilAsync(async () => await SessionCluster.ActivationCountAsync<UserSessionsGrain>(cluster) == 0);
    }

    [Fact]
    public async Task A_record_with_the_old_retention_reminder_gets_its_row_and_loses_the_reminder_when_activated()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, index: index, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("upgraded");
        var ended = await StoreAsRecordOfEarlierVersionAsync(cluster, store, index, user, "upgraded", flagged: true);
        var table = cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>();
        Assert.NotNull(await table.ReadRow(UserGrainId("upgraded"), UserSessionsGrain.RetentionReminderName));

        // Any call activates it.
        Assert.Single(await user.GetHistoryAsync(10));

        Assert.Null(await table.ReadRow(UserGrainId("upgraded"), UserSessionsGrain.RetentionReminderName));
        var row = await SessionCluster.HistoryRowAsync(index, "upgraded");
        Assert.Equal(ended.EndedAt + Retention, row?.Deadline);
        var stored = ReadStoredState(cluster, store, "upgraded");
        Assert.False(stored.RetentionReminder);
        Assert.Equal(row?.Deadline, stored.RetentionDue);

        // And the row does the reminder's work.
        time.Advance(Retention + TimeSpan.FromMinutes(1));
        await SessionCluster.RunJanitorsAsync(cluster.Client);
        Assert.False(store.Records.ContainsKey((SessionStorage.UserStateName, UserGrainId("upgraded"))));
        Assert.Null(await SessionCluster.HistoryRowAsync(index, "upgraded"));
    }

    [Fact]
    public async Task An_old_retention_reminder_that_ticks_is_unregistered_and_replaced_by_the_row()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, index: index, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("ticked");
        // Whatever the stored flag says, a tick shows the reminder is there.
        var ended = await StoreAsRecordOfEarlierVersionAsync(cluster, store, index, user, "ticked", flagged: false);
        var table = cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>();

        // What the reminder service does when the reminder is due (its schedule runs on real time, not the test's clock).
        await cluster.Client.GetGrain<IRemindable>(UserGrainId("ticked")).ReceiveReminder(UserSessionsGrain.RetentionReminderName, default);

        Assert.Null(await table.ReadRow(UserGrainId("ticked"), UserSessionsGrain.RetentionReminderName));
        Assert.Equal(ended.EndedAt + Retention, (await SessionCluster.HistoryRowAsync(index, "ticked"))?.Deadline);
        Assert.False(ReadStoredState(cluster, store, "ticked").RetentionReminder);
        Assert.Equal(ended.SessionId, Assert.Single(await user.GetHistoryAsync(10)).SessionId);
    }

    [Fact]
    public async Task A_stored_JSON_state_of_an_earlier_version_reads_with_its_reminder_flag_and_no_row()
    {
        await using var cluster = await SessionCluster.StartAsync(new FakeTimeProvider(SessionCluster.Start));
        // The serializer Orleans' storage providers (and the PostgreSQL grain storage) default to.
        var serializer = cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainStorageSerializer>();
        var current = serializer.Serialize(new UserSessionsState { CurrentSessionId = "sess_x", RetentionDue = SessionCluster.Start });
        Assert.Equal(SessionCluster.Start, serializer.Deserialize<UserSessionsState>(current)?.RetentionDue);

        // What an earlier version stored: the flag under its property name (its default, false, is left out), no RetentionDue.
        var json = JsonNode.Parse(current.ToString())!.AsObject();
        Assert.True(json.Remove(nameof(UserSessionsState.RetentionDue)));
        Assert.False(json.ContainsKey(nameof(UserSessionsState.RetentionReminder)));
        json[nameof(UserSessionsState.RetentionReminder)] = true;
        var old = serializer.Deserialize<UserSessionsState>(BinaryData.FromString(json.ToJsonString()))!;
        Assert.True(old.RetentionReminder);
        Assert.Null(old.RetentionDue);
        Assert.Equal("sess_x", old.CurrentSessionId);
    }

    /// <summary>
    /// Leaves <paramref name="userId"/> with one ended session and no activation, stored as an earlier version left it:
    /// no row in the index, its per-user reminder registered, and the state's reminder flag set when
    /// <paramref name="flagged"/>. Returns the ended session.
    /// </summary>
    private static async Task<SessionInfo> StoreAsRecordOfEarlierVersionAsync(
        InProcessTestCluster cluster, SharedGrainStorage.Store store, InMemorySessionDeadlineIndex index, IUserSessionsGrain user, string userId, bool flagged)
    {
        var session = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        var ended = Assert.Single(await user.GetHistoryAsync(10));
        await SessionCluster.DeactivateAsync(cluster, user);

        var header = (SessionStorage.UserStateName, UserGrainId(userId));
        var serializer = cluster.Silos[0].ServiceProvider.GetRequiredService<Serializer>();
        var state = serializer.Deserialize<UserSessionsState>(store.Records[header].Data)!;
        state.RetentionReminder = flagged;
        state.RetentionDue = null;
        store.Records[header] = new SharedGrainStorage.Record(serializer.SerializeToArray(state), store.Records[header].ETag);
        var key = DeadlineKeys.History(userId);
        await index.RemoveAsync(key, SessionDeadlinePartitioner.GetPartition(key, 8));
        // Due long after the test: the reminder service would not tick it on its own meanwhile.
        await cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>().UpsertRow(new ReminderEntry
        {
            GrainId = UserGrainId(userId),
            ReminderName = UserSessionsGrain.RetentionReminderName,
            StartAt = DateTime.UtcNow.AddDays(1),
            Period = Retention,
        });
        return ended;
    }

    private static async Task<IList<ReminderEntry>> AllRemindersAsync(IReminderTable table) => (await table.ReadRows(0, 0)).Reminders;

    private static bool IsJanitorReminder(ReminderEntry reminder)
        => reminder.GrainId.Type.ToString() == "janitor" && reminder.ReminderName.StartsWith(JanitorGrain.ReminderPrefix, StringComparison.Ordinal);

    private static GrainId UserGrainId(string userId) => GrainId.Create("user-sessions", userId);

    private static UserSessionsState ReadStoredState(InProcessTestCluster cluster, SharedGrainStorage.Store store, string userId)
        => cluster.Silos[0].ServiceProvider.GetRequiredService<Serializer>()
            .Deserialize<UserSessionsState>(store.Records[(SessionStorage.UserStateName, UserGrainId(userId))].Data)!;
}
