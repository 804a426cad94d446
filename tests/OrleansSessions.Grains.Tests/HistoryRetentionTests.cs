using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.TestingHost;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// Sessions:HistoryRetention: idle users' history expires, and an emptied user record is deleted from storage, by the
/// janitor sweeping the users' rows in the deadline index.
/// </summary>
public sealed class HistoryRetentionTests
{
    private static readonly Dictionary<string, string> OneDayRetention = new() { ["Sessions:HistoryRetention"] = "1.00:00:00" };

    [Fact]
    public async Task A_user_without_live_sessions_loses_expired_history_and_its_stored_record()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, index: index, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("gone-away");
        var session = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        var userId = UserGrainId("gone-away");
        var sessionRecord = (SessionStorage.SessionStateName, GrainId.Create("session", session.SessionId));
        Assert.True(store.Records.ContainsKey((SessionStorage.UserStateName, userId)));
        Assert.True(store.Records.ContainsKey(sessionRecord));

        // The user went idle: its row in the deadline index is due when the entry expires.
        Assert.NotNull(await SessionCluster.HistoryRowAsync(index, "gone-away"));

        time.Advance(TimeSpan.FromHours(23));
        Assert.Single(await user.GetHistoryAsync(10));
        await SessionCluster.RunJanitorsAsync(cluster.Client);
        Assert.Single(await user.GetHistoryAsync(10));
        Assert.True(store.Records.ContainsKey((SessionStorage.UserStateName, userId)));

        time.Advance(TimeSpan.FromHours(2));
        // Reads never show an entry past its retention, whether or not the janitor has come.
        Assert.Empty(await user.GetHistoryAsync(10));
        await SessionCluster.RunJanitorsAsync(cluster.Client);

        await Wait.UntilAsync(() => !store.Records.ContainsKey((SessionStorage.UserStateName, userId)) && !store.Records.ContainsKey(sessionRecord));
        Assert.Null(await SessionCluster.HistoryRowAsync(index, "gone-away"));
        Assert.Null(await user.GetCurrentSessionAsync());
        Assert.Empty(await user.GetHistoryAsync(10));
        await Assert.ThrowsAsync<SessionNotFoundException>(async () => await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).GetAsync());
    }

    [Fact]
    public async Task A_user_with_a_live_session_keeps_its_record_and_loses_its_row()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string>(OneDayRetention)
        {
            ["Sessions:IdleTimeout"] = "2.00:00:00",
            ["Sessions:AbsoluteTimeout"] = "3.00:00:00",
        }, index: index, store: store);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("comes-back");
        var first = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(first.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        var userId = UserGrainId("comes-back");
        Assert.NotNull(await SessionCluster.HistoryRowAsync(index, "comes-back"));

        var second = await user.CreateSessionAsync();
        time.Advance(TimeSpan.FromHours(25));
        await cluster.Client.GetGrain<ISessionGrain>(second.SessionId).TouchAsync();
        await SessionCluster.RunJanitorsAsync(cluster.Client);

        Assert.Null(await SessionCluster.HistoryRowAsync(index, "comes-back"));
        Assert.True(store.Records.ContainsKey((SessionStorage.UserStateName, userId)));
        Assert.Equal([second.SessionId], (await user.GetActiveSessionsAsync()).Select(s => s.SessionId));
        Assert.Equal(second.SessionId, (await user.GetCurrentSessionAsync())?.SessionId);
        Assert.Empty(await user.GetHistoryAsync(10));

        // When its last session ends, the row is written again, due when that session's entry expires.
        await cluster.Client.GetGrain<ISessionGrain>(second.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1 && await SessionCluster.HistoryRowAsync(index, "comes-back") is not null);
        var ended = Assert.Single(await user.GetHistoryAsync(10));
        Assert.Equal(ended.EndedAt + TimeSpan.FromDays(1), (await SessionCluster.HistoryRowAsync(index, "comes-back"))?.Deadline);
    }

    [Fact]
    public async Task Zero_retention_keeps_history_and_writes_no_row()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var index = new InMemorySessionDeadlineIndex();
        await using var cluster = await SessionCluster.StartAsync(time, new Dictionary<string, string> { ["Sessions:HistoryRetention"] = "00:00:00" }, index: index);
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("keeps-all");
        var session = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        time.Advance(TimeSpan.FromDays(400));
        await SessionCluster.RunJanitorsAsync(cluster.Client);
        Assert.Single(await user.GetHistoryAsync(10));
        Assert.Null(await SessionCluster.HistoryRowAsync(index, "keeps-all"));
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public async Task An_end_is_recorded_even_when_the_retention_row_cannot_be_written_and_the_next_write_writes_it()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var store = new SharedGrainStorage.Store();
        var index = new RefusingHistoryRows(new InMemorySessionDeadlineIndex()) { Refusing = true };
        await using var cluster = await SessionCluster.StartAsync(time, OneDayRetention, store: store,
            configureSilo: silo => silo.Services.AddSingleton<ISessionDeadlineIndex>(index));
        var user = cluster.Client.GetGrain<IUserSessionsGrain>("no-rows");
        var session = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 1);
        Assert.Equal(session.SessionId, Assert.Single(await user.GetHistoryAsync(10)).SessionId);
        Assert.Empty(await user.GetActiveSessionsAsync());
        // Stored, not only held by the activation; and not claiming a row it has not got.
        var stored = ReadStoredState(cluster, store, "no-rows");
        Assert.Equal(session.SessionId, Assert.Single(stored.History).SessionId);
        Assert.Empty(stored.ActiveSessionIds);
        Assert.Null(stored.RetentionDue);
        Assert.Null(await SessionCluster.HistoryRowAsync(index, "no-rows"));

        // The index is back: the user's next write writes the row.
        index.Refusing = false;
        time.Advance(TimeSpan.FromHours(1));
        var next = await user.CreateSessionAsync();
        await cluster.Client.GetGrain<ISessionGrain>(next.SessionId).CloseAsync();
        await Wait.UntilAsync(async () => (await user.GetHistoryAsync(10)).Count == 2);
        // Due when the oldest entry, the first session's, expires.
        var oldest = (await user.GetHistoryAsync(10))[^1];
        Assert.Equal(session.SessionId, oldest.SessionId);
        var row = await SessionCluster.HistoryRowAsync(index, "no-rows");
        Assert.Equal(oldest.EndedAt + TimeSpan.FromDays(1), row?.Deadline);
        Assert.Equal(row?.Deadline, ReadStoredState(cluster, store, "no-rows").RetentionDue);
    }

    /// <summary>A deadline index that, while <see cref="Refusing"/>, refuses users' history-retention rows (sessions' rows pass).</summary>
    private sealed class RefusingHistoryRows(InMemorySessionDeadlineIndex inner) : ISessionDeadlineIndex
    {
        public volatile bool Refusing;

        public ValueTask UpsertAsync(string sessionId, string userId, DateTimeOffset deadline, int partition, CancellationToken cancellationToken = default)
            => Refusing && DeadlineKeys.HistoryUser(sessionId) is not null
                ? ValueTask.FromException(new InvalidOperationException("The deadline index is down."))
                : inner.UpsertAsync(sessionId, userId, deadline, partition, cancellationToken);

        public ValueTask RemoveAsync(string sessionId, int partition, CancellationToken cancellationToken = default)
            => inner.RemoveAsync(sessionId, partition, cancellationToken);

        public ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadDueAsync(int partition, DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
            => inner.ReadDueAsync(partition, now, limit, cancellationToken);

        public ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadRangeAsync(int partition, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken = default)
            => inner.ReadRangeAsync(partition, from, to, limit, cancellationToken);
    }

    private static GrainId UserGrainId(string userId) => GrainId.Create("user-sessions", userId);

    private static UserSessionsState ReadStoredState(InProcessTestCluster cluster, SharedGrainStorage.Store store, string userId)
        => cluster.Silos[0].ServiceProvider.GetRequiredService<Serializer>()
            .Deserialize<UserSessionsState>(store.Records[(SessionStorage.UserStateName, UserGrainId(userId))].Data)!;
}
