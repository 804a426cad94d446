using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.TestingHost;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>Sessions:HistoryRetention: idle users' history expires, and an emptied user record is deleted from storage.</summary>
public sealed class HistoryRetentionTests
{
    private static readonly Dictionary<string, string> OneDayRetention = new() { ["Sessions:HistoryRetention"] = "1.00:00:00" };

    [Fact]
    public async Task A_user_without_live_sessions_loses_expired_history_and_its_stored_record()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("gone-away");
        var session = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        var userId = UserGrainId("gone-away");
        var sessionRecord = (SessionStorage.SessionStateName, GrainId.Create("session", session.SessionId));
        Assert.True(store.Records.ContainsKey((SessionStorage.UserStateName, userId)));
        Assert.True(store.Records.ContainsKey(sessionRecord));

        // The user went idle: its retention reminder is registered, due when the entry expires.
        var reminder = await ReadReminderAsync(cluster, userId);
        Assert.NotNull(reminder);

        time.Advance(TimeSpan.FromHours(23));
        Assert.Single(await user.GetHistoryAsync(10));
        await TickAsync(cluster, userId);
        Assert.Single(await user.GetHistoryAsync(10));
        Assert.True(store.Records.ContainsKey((SessionStorage.UserStateName, userId)));

        time.Advance(TimeSpan.FromHours(2));
        // Reads never show an entry past its retention, whether or not the reminder has run.
        Assert.Empty(await user.GetHistoryAsync(10));
        await TickAsync(cluster, userId);

        await Wait.UntilAsync(() => !store.Records.ContainsKey((SessionStorage.UserStateName, userId)) && !store.Records.ContainsKey(sessionRecord));
        Assert.Null(await ReadReminderAsync(cluster, userId));
        Assert.Null(await user.GetCurrentSessionAsync());
        Assert.Empty(await user.GetHistoryAsync(10));
        await Assert.ThrowsAsync<SessionNotFoundException>(async () => await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).GetAsync());
    }

    [Fact]
    public async Task A_user_with_a_live_session_keeps_its_record_and_stops_the_reminder()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>(OneDayRetention)
        {
            ["Sessions:IdleTimeout"] = "2.00:00:00",
            ["Sessions:AbsoluteTimeout"] = "3.00:00:00",
        }, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("comes-back");
        var first = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(first.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        var userId = UserGrainId("comes-back");
        Assert.NotNull(await ReadReminderAsync(cluster, userId));

        var second = await user.CreateSessionAsync();
        time.Advance(TimeSpan.FromHours(25));
        await cluster.Client.GetGrain<ISessionGrain>(second.SessionId).TouchAsync();
        await TickAsync(cluster, userId);

        Assert.Null(await ReadReminderAsync(cluster, userId));
        Assert.True(store.Records.ContainsKey((SessionStorage.UserStateName, userId)));
        Assert.Equal([second.SessionId], (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
        Assert.Equal(second.SessionId, (await user.GetCurrentSessionAsync())?.SessionId);
        Assert.Empty(await user.GetHistoryAsync(10));

        // When its last session ends, the reminder is registered again.
        await cluster.Client.GetGrain<ISessionGrain>(second.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1 && await ReadReminderAsync(cluster, userId) is not null);
    }

    [Fact]
    public async Task Zero_retention_keeps_history_and_registers_no_reminder()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string> { ["Sessions:HistoryRetention"] = "00:00:00" });
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("keeps-all");
        var session = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        time.Advance(TimeSpan.FromDays(400));
        Assert.Single(await user.GetHistoryAsync(10));
        Assert.Null(await ReadReminderAsync(cluster, UserGrainId("keeps-all")));
    }

    [Fact]
    public async Task An_end_is_recorded_even_when_the_retention_reminder_cannot_be_registered()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, store: store,
            configureSilo: silo => silo.Services.AddSingleton<IReminderTable, RefusingReminderTable>());
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("no-reminders");
        var session = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        Assert.Equal(session.SessionId, Assert.Single(await user.GetHistoryAsync(10)).SessionId);
        Assert.Empty(await user.GetActiveSessionsAsync());
        // Stored, not only held by the activation.
        var record = store.Records[(SessionStorage.UserStateName, UserGrainId("no-reminders"))];
        var stored = cluster.Silos[0].ServiceProvider.GetRequiredService<Serializer>().Deserialize<UserSessionsState>(record.Data)!;
        Assert.Equal(session.SessionId, Assert.Single(stored.History).SessionId);
        Assert.Empty(stored.ActiveSessionIds);
        Assert.False(stored.RetentionReminder);
    }

    /// <summary>A reminder table that refuses the retention reminders (and keeps no other).</summary>
    private sealed class RefusingReminderTable : IReminderTable
    {
        public Task<ReminderTableData> ReadRows(GrainId grainId) => Task.FromResult(new ReminderTableData());

        public Task<ReminderTableData> ReadRows(uint begin, uint end) => Task.FromResult(new ReminderTableData());

        public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => Task.FromResult<ReminderEntry?>(null);

        public Task<string?> UpsertRow(ReminderEntry entry)
            => entry.ReminderName == UserSessionsGrain.RetentionReminderName
                ? throw new InvalidOperationException("The reminder table is down.")
                : Task.FromResult<string?>(Guid.NewGuid().ToString("N"));

        public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) => Task.FromResult(false);

        public Task TestOnlyClearTable() => Task.CompletedTask;
    }

    private static GrainId UserGrainId(string userId) => GrainId.Create("user-sessions", userId);

    private static Task<ReminderEntry?> ReadReminderAsync(InProcessTestCluster cluster, GrainId grain)
        => cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>().ReadRow(grain, UserSessionsGrain.RetentionReminderName);

    // What the reminder service does when the reminder is due (its schedule runs on real time, not the test's clock).
    private static Task TickAsync(InProcessTestCluster cluster, GrainId grain)
        => cluster.Client.GetGrain<IRemindable>(grain).ReceiveReminder(UserSessionsGrain.RetentionReminderName, default);
}
