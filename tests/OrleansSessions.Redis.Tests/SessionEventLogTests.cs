using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;
using StackExchange.Redis;

namespace OrleansSessions.Redis.Tests;

/// <summary>The event log contract on a real Redis, and what only this provider does (its keys, scripts and dedup keys).</summary>
[Collection(RedisCollection.Name)]
public sealed class SessionEventLogTests(RedisFixture fixture) : SessionEventLogContract
{
    private static readonly TimeSpan Retention = TimeSpan.FromHours(24);
    private static readonly Serializer<SessionEvent> Serializer =
        new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer<SessionEvent>>();

    // Every test gets its own ServiceId: keys of other tests (and other runs) are invisible to it.
    protected override ISessionEventLog CreateLog() => new RedisSessionEventLog(fixture.Connection, RedisFixture.UniqueName("events"), Serializer, Retention);

    private RedisSessionEventLog Redis => (RedisSessionEventLog)Log;

    [Fact]
    public async Task An_event_is_a_stream_entry_at_its_position_with_a_dedup_key_living_the_retention_and_a_margin()
    {
        await Log.AppendAsync(2, 5, Event("sess_layout", T0.AddTicks(17)));
        await Log.AppendAsync(2, -6, Event("sess_layout", T0.AddSeconds(1)));

        Assert.Equal("{" + Redis.ServiceId + "/events/2}/stream", (string?)Redis.StreamKey(2));
        Assert.Equal("{" + Redis.ServiceId + "/events/2}/bounds", (string?)Redis.BoundsKey(2));
        Assert.Equal("{" + Redis.ServiceId + "/events/2}/appended/sess_layout/-6", (string?)Redis.AppendedKey(2, "sess_layout", -6));
        var entries = await fixture.Database.StreamRangeAsync(Redis.StreamKey(2));
        Assert.Equal(["1-0", "2-0"], entries.Select(e => e.Id.ToString()));
        Assert.Equal(RedisSessionEventLog.ToMicroseconds(T0) + 1, (long)entries[0]["t"]);
        Assert.Equal(Event("sess_layout", T0.AddTicks(17)), Serializer.Deserialize((byte[])entries[0]["e"]!));
        Assert.Equal(2, (long)await fixture.Database.HashGetAsync(Redis.BoundsKey(2), "head"));
        Assert.Equal(2, (long)await fixture.Database.StringGetAsync(Redis.AppendedKey(2, "sess_layout", -6)));
        var ttl = await fixture.Database.KeyTimeToLiveAsync(Redis.AppendedKey(2, "sess_layout", 5));
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, Retention + RedisSessionEventLog.DedupMargin - TimeSpan.FromMinutes(1), Retention + RedisSessionEventLog.DedupMargin);
    }

    [Fact]
    public async Task A_trim_removes_stream_entries_and_records_the_last_position_in_the_bounds_hash()
    {
        for (var i = 0; i < 3; i++)
        {
            await Log.AppendAsync(1, 1, Event($"sess_{i}", T0.AddSeconds(i)));
        }
        Assert.Equal(2, await Log.TrimAsync(1, T0.AddSeconds(2)));
        Assert.Equal(1, await fixture.Database.StreamLengthAsync(Redis.StreamKey(1)));
        Assert.Equal(2, (long)await fixture.Database.HashGetAsync(Redis.BoundsKey(1), "trimmed"));
        // The stream keeps its last id: the next entry still goes after it.
        Assert.Equal(4, await Log.AppendAsync(1, 1, Event("sess_next", T0.AddSeconds(3))));
    }

    [Fact]
    public async Task Events_are_read_by_service_only()
    {
        await Log.AppendAsync(0, 1, Event("sess_a", T0));
        var other = new RedisSessionEventLog(fixture.Connection, RedisFixture.UniqueName("events-other"), Serializer, Retention);
        Assert.Empty(await other.ReadAsync(0, 0, 10));
        Assert.Equal(new SessionEventLogBounds(0, 0), await other.BoundsAsync(0));
        Assert.Equal(1, await other.AppendAsync(0, 1, Event("sess_a", T0)));
        Assert.Equal(1, await other.TrimAsync(0, T0.AddDays(1)));
        Assert.Single(await Log.ReadAsync(0, 0, 10));
        Assert.Equal(2, await Log.AppendAsync(0, 1, Event("sess_b", T0)));
    }

    [Fact]
    public async Task Without_a_server_every_call_fails_as_storage_unavailable()
    {
        var options = ConfigurationOptions.Parse("127.0.0.1:1,abortConnect=false,connectTimeout=500");
        options.BacklogPolicy = BacklogPolicy.FailFast; // fail at once rather than wait for a connection
        await using var nowhere = await ConnectionMultiplexer.ConnectAsync(options);
        var log = new RedisSessionEventLog(nowhere, RedisFixture.UniqueName("events"), Serializer, Retention);
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => log.AppendAsync(0, 1, Event("sess_x", T0)).AsTask());
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => log.ReadAsync(0, 0, 10).AsTask());
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => log.TrimAsync(0, T0).AsTask());
        var bounds = await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => log.BoundsAsync(0).AsTask());
        Assert.StartsWith("The session storage (Redis) is unavailable: ", bounds.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Times_truncate_toward_earlier_instants_before_the_epoch_too()
    {
        Assert.Equal(-1, RedisSessionEventLog.ToMicroseconds(DateTimeOffset.UnixEpoch.AddTicks(-7)));
        Assert.Equal(0, RedisSessionEventLog.ToMicroseconds(DateTimeOffset.UnixEpoch.AddTicks(7)));
        Assert.Equal(1, RedisSessionEventLog.ToMicroseconds(DateTimeOffset.UnixEpoch.AddTicks(17)));
    }
}
