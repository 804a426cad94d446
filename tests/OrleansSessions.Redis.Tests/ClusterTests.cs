using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansSessions.Grains;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace OrleansSessions.Redis.Tests;

/// <summary>The Orleans Redis providers and the deadline index under a 2-silo TestCluster on a real Redis.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ClusterTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private TestCluster Cluster => fixture.Cluster;

    private string MembersKey => $"{fixture.ServiceId}/members/{fixture.ClusterId}";

    [Fact]
    public async Task The_membership_hash_lists_every_silo_and_the_client_found_its_gateways_there()
    {
        var fields = await fixture.Database.HashGetAllAsync(MembersKey);
        Assert.Contains(fields, f => f.Name == "Version");
        var rows = fields.Where(f => f.Name != "Version").Select(f => f.Value.ToString()).ToList();
        output.WriteLine(rows.FirstOrDefault() ?? "(no row)");
        foreach (var silo in Cluster.Silos)
        {
            Assert.Contains(rows, r => r.Contains(silo.SiloAddress.Endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }
        // The client found its gateways in the hash, or none of the grain tests could call.
        Assert.Null(await Cluster.Client.GetGrain<IUserSessionsGrain>("user-membership").GetCurrentSessionAsync());
    }

    [Fact]
    public async Task A_session_created_touched_and_closed_survives_deactivation_in_redis()
    {
        var userId = "user-" + Guid.NewGuid().ToString("N");
        var users = Cluster.Client.GetGrain<IUserSessionsGrain>(userId);
        var created = await users.CreateSessionAsync();
        var session = Cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        var touched = await session.TouchAsync();
        Assert.True(touched.LastActivity >= created.LastActivity);

        // The live session has a deadline row, no later than its deadline.
        var index = (RedisSessionDeadlineIndex)SiloServices().GetRequiredService<ISessionDeadlineIndex>();
        Assert.Equal(fixture.ServiceId, index.ServiceId);
        var partition = SessionDeadlinePartitioner.GetPartition(created.SessionId, RedisClusterFixture.JanitorPartitions);
        var score = await fixture.Database.SortedSetScoreAsync(index.DueKey(partition), created.SessionId);
        Assert.NotNull(score);
        Assert.True(RedisSessionDeadlineIndex.FromScore(score.Value) <= created.ExpiresAt);

        await Cluster.DeactivateAsync(session);
        await Cluster.DeactivateAsync(users);
        var reread = await session.GetAsync();
        Assert.Equal(touched.LastActivity, reread.LastActivity);
        Assert.Equal(touched.ExpiresAt, reread.ExpiresAt);
        Assert.Equal(SessionStatus.Active, reread.Status);
        Assert.Equal(created.SessionId, Assert.Single(await users.GetActiveSessionsAsync()).SessionId);

        var closed = await session.CloseAsync();
        Assert.Equal(SessionStatus.Closed, closed.Status);
        await Cluster.DeactivateAsync(session);
        await Cluster.DeactivateAsync(users);
        Assert.Equal(SessionStatus.Closed, (await session.GetAsync()).Status);
        Assert.Equal(EndReason.Logout, (await session.GetAsync()).EndReason);
        Assert.Empty(await users.GetActiveSessionsAsync());

        // One hash {etag, data} per state, under the ServiceId.
        var sessionKey = Assert.Single(await fixture.KeysAsync($"{fixture.ServiceId}/state/*{created.SessionId}*"));
        output.WriteLine(sessionKey);
        Assert.Equal(2, await fixture.Database.HashLengthAsync(sessionKey));
        Assert.Single(await fixture.KeysAsync($"{fixture.ServiceId}/state/*{userId}*"));

        // The deadline row was removed when the session ended.
        Assert.Null(await fixture.Database.SortedSetScoreAsync(index.DueKey(partition), created.SessionId));
        Assert.False(await fixture.Database.HashExistsAsync(index.UsersKey(partition), created.SessionId));
    }

    [Fact]
    public async Task A_user_with_hundreds_of_live_sessions_keeps_them_in_page_keys_that_a_close_all_deletes()
    {
        var userId = "heavy-" + Guid.NewGuid().ToString("N");
        var users = Cluster.Client.GetGrain<IUserSessionsGrain>(userId);
        var ids = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            ids.Add((await users.CreateSessionAsync()).SessionId);
        }
        Assert.Equal(2, (await fixture.KeysAsync($"{fixture.ServiceId}/state/user-sessions-page/{userId}/*")).Count);

        await Cluster.DeactivateAsync(users);
        Assert.Equal(300, (await users.GetActiveSessionsPageAsync(1, null)).Total);
        Assert.Equal(ids, (await users.GetAllActiveSessionsAsync(pageSize: 128)).Select(s => s.SessionId));

        Assert.Equal(300, await users.CloseAllAsync());
        Assert.Empty(await fixture.KeysAsync($"{fixture.ServiceId}/state/user-sessions-page/{userId}/*"));
    }

    [Fact]
    public async Task Writes_through_the_grain_storage_check_the_etag()
    {
        var storage = SiloServices().GetRequiredKeyedService<IGrainStorage>(SessionStorage.Name);
        var grainId = GrainId.Create("redistest", Guid.NewGuid().ToString("N"));
        const string stateName = "redistest-state";

        var first = new GrainState<Dictionary<string, string>>(new() { ["v"] = "1" });
        await storage.WriteStateAsync(stateName, grainId, first);
        Assert.NotNull(first.ETag);

        var stale = new GrainState<Dictionary<string, string>>(new() { ["v"] = "stale" }) { ETag = first.ETag };
        first.State!["v"] = "2";
        await storage.WriteStateAsync(stateName, grainId, first);
        Assert.NotEqual(stale.ETag, first.ETag);

        // A writer holding an old ETag, and one that never read (null ETag) while the state exists, both conflict.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(stateName, grainId, stale));
        var blind = new GrainState<Dictionary<string, string>>(new() { ["v"] = "blind" });
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(stateName, grainId, blind));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(stateName, grainId, stale));

        var read = new GrainState<Dictionary<string, string>>();
        await storage.ReadStateAsync(stateName, grainId, read);
        Assert.Equal(first.ETag, read.ETag);
        Assert.True(read.RecordExists);
        Assert.Equal("2", read.State!["v"]);

        // Clear deletes the key (DeleteStateOnClear); a new first write starts over.
        await storage.ClearStateAsync(stateName, grainId, read);
        Assert.Null(read.ETag);
        Assert.Empty(await fixture.KeysAsync($"{fixture.ServiceId}/state/*{grainId.Key}*"));
        var empty = new GrainState<Dictionary<string, string>>();
        await storage.ReadStateAsync(stateName, grainId, empty);
        Assert.False(empty.RecordExists);
        Assert.Null(empty.ETag);
        await storage.WriteStateAsync(stateName, grainId, empty);
        Assert.NotNull(empty.ETag);
    }

    [Fact]
    public async Task A_reminder_on_redis_ticks_and_is_in_the_reminders_sorted_set()
    {
        var key = Guid.NewGuid().ToString("N");
        var grain = Cluster.Client.GetGrain<ITickGrain>(key);
        await grain.StartAsync(TimeSpan.FromSeconds(1));
        Assert.Single(await RemindersAsync(key));

        await Wait.UntilAsync(() => Task.FromResult(TickGrain.Ticks.GetValueOrDefault(key) >= 2), what: "two reminder ticks");
        output.WriteLine($"ticks: {TickGrain.Ticks.GetValueOrDefault(key)}");

        await grain.StopAsync();
        Assert.Empty(await RemindersAsync(key));
    }

    [Fact]
    public async Task The_janitor_has_one_reminder_per_partition()
    {
        await Wait.UntilAsync(async () => (await RemindersAsync("janitor/")).Count(m => m.Contains("janitor@", StringComparison.Ordinal)) == RedisClusterFixture.JanitorPartitions,
            what: "the janitor reminders of every partition");
    }

    [Fact]
    public async Task A_session_s_events_are_entries_of_its_partition_s_stream_and_read_back_through_the_log_grain()
    {
        var log = Cluster.Client.GetGrain<ISessionEventLogGrain>(0);
        var start = await log.HeadAsync();
        var userId = "user-" + Guid.NewGuid().ToString("N");
        var created = await Cluster.Client.GetGrain<IUserSessionsGrain>(userId).CreateSessionAsync();
        await Cluster.Client.GetGrain<ISessionGrain>(created.SessionId).CloseAsync();

        var page = await log.ReadAsync(start, ISessionEventLogGrain.MaxLimit, userId);
        Assert.Equal([SessionEventType.Created, SessionEventType.Closed], page.Events.Select(e => e.Type));
        Assert.All(page.Events, e => Assert.Equal(created.SessionId, e.Session.SessionId));
        var eventLog = Assert.IsType<RedisSessionEventLog>(SiloServices().GetRequiredService<ISessionEventLog>());
        Assert.Equal(fixture.ServiceId, eventLog.ServiceId);
        var partition = SessionDeadlinePartitioner.GetPartition(created.SessionId, RedisClusterFixture.JanitorPartitions);
        Assert.True(await fixture.Database.StreamLengthAsync(eventLog.StreamKey(partition)) >= 2);
    }

    [Fact]
    public async Task The_silo_has_one_connection_and_redis_failures_are_classifiable()
    {
        var services = SiloServices();
        var options = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Serialization.ExceptionSerializationOptions>>().Value;
        Assert.Contains("StackExchange.Redis", options.SupportedNamespacePrefixes);
        Assert.IsType<RedisSessionDeadlineIndex>(services.GetRequiredService<ISessionDeadlineIndex>());
        // One multiplexer per silo: the same connected instance every time it is asked for.
        var connection = services.GetRequiredService<RedisConnection>();
        Assert.Same(await connection.GetAsync(), await connection.GetAsync());
        Assert.True((await connection.GetAsync()).IsConnected);
        var failures = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<OrleansSessions.Grains.Options.SessionStorageFailureOptions>>().Value;
        Assert.True(failures.FindFailure(new InvalidOperationException("x", new RedisConnectionException(ConnectionFailureType.SocketFailure, "down"))) is RedisConnectionException);
        Assert.Null(failures.FindFailure(new InvalidOperationException("x")));
        // Both grain storages report failures of Redis as SessionStorageUnavailableException.
        foreach (var name in new[] { SessionStorage.Name, OrleansSessions.Hosting.SiloBuilderRedisExtensions.PubSubStoreName })
        {
            var storage = Assert.IsType<OrleansSessions.Grains.Storage.StorageFailureGrainStorage>(services.GetRequiredKeyedService<IGrainStorage>(name));
            Assert.IsType<Orleans.Persistence.RedisGrainStorage>(storage.Inner);
        }
    }

    [Fact]
    public void Failures_of_Redis_anywhere_in_the_chain_are_storage_unavailable_and_nothing_else_is()
    {
        var refused = new RedisConnectionException(ConnectionFailureType.UnableToConnect, "No connection is available", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused));
        var unavailable = RedisStorageFailure.Translate(new InvalidOperationException("wrapped", refused));
        Assert.NotNull(unavailable);
        Assert.Equal("The session storage (Redis) is unavailable: No connection is available", unavailable.Message);
        Assert.Equal("storage_unavailable", OrleansSessions.Sessions.SessionFailure.Classify(unavailable).Code);
        // Orleans' Redis grain storage carries only the driver's message; a failed first connect is ours.
        Assert.NotNull(RedisStorageFailure.Translate(new Orleans.Persistence.Redis.RedisStorageException("Failed to read grain state. StackExchange.Redis.RedisConnectionException: down")));
        Assert.NotNull(RedisStorageFailure.Translate(new RedisTimeoutException("Timeout performing HGETALL", CommandStatus.Sent)));
        Assert.NotNull(RedisStorageFailure.Translate(new RedisUnavailableException("Redis at 127.0.0.1:1 is unreachable")));
        Assert.Null(RedisStorageFailure.Translate(new InvalidOperationException("not Redis")));
        Assert.Null(RedisStorageFailure.Translate(new InconsistentStateException("Version conflict")));
    }

    /// <summary>The members of the service's one reminders sorted set that mention <paramref name="grainKey"/>.</summary>
    private async Task<List<string>> RemindersAsync(string grainKey)
        => (await fixture.Database.SortedSetRangeByRankAsync($"{fixture.ServiceId}/reminders"))
            .Select(m => m.ToString())
            .Where(m => m.Contains(grainKey, StringComparison.Ordinal))
            .ToList();

    private IServiceProvider SiloServices() => ((InProcessSiloHandle)Cluster.GetActiveSilos().First()).SiloHost.Services;
}
