using OrleansSessions.Grains.Storage;

namespace OrleansSessions.Redis.Tests;

/// <summary>The deadline index contract on a real Redis, and what only this provider does (its key layout and scores).</summary>
[Collection(RedisCollection.Name)]
public sealed class SessionDeadlineIndexTests(RedisFixture fixture) : SessionDeadlineIndexContract
{
    // Every test gets its own ServiceId: keys of other tests (and other runs) are invisible to it.
    protected override ISessionDeadlineIndex CreateIndex() => new RedisSessionDeadlineIndex(fixture.Connection, RedisFixture.UniqueName("deadlines"));

    private RedisSessionDeadlineIndex Redis => (RedisSessionDeadlineIndex)Index;

    [Fact]
    public async Task Rows_are_read_by_service_only()
    {
        await Index.UpsertAsync("sess_p0", "u", T0, 0);
        var other = new RedisSessionDeadlineIndex(fixture.Connection, RedisFixture.UniqueName("deadlines-other"));
        Assert.Empty(await other.ReadDueAsync(0, T0, 10));
        await other.RemoveAsync("sess_p0", 0); // another service's remove leaves this service's row
        Assert.Single(await Index.ReadDueAsync(0, T0, 10));
    }

    [Fact]
    public async Task Both_keys_of_a_partition_are_gone_with_its_last_row()
    {
        await Index.UpsertAsync("sess_x", "u", T0, 1);
        await Index.RemoveAsync("sess_x", 1);
        Assert.False(await fixture.Database.KeyExistsAsync(Redis.DueKey(1)));
        Assert.False(await fixture.Database.KeyExistsAsync(Redis.UsersKey(1)));
    }

    [Fact]
    public async Task A_row_is_one_sorted_set_member_and_one_hash_field_in_the_same_hash_slot()
    {
        await Index.UpsertAsync("sess_layout", "user_layout", T0.AddTicks(15), 2);
        Assert.Equal(RedisSessionDeadlineIndex.ToScore(T0.AddTicks(15)), await fixture.Database.SortedSetScoreAsync(Redis.DueKey(2), "sess_layout"));
        Assert.Equal("user_layout", (string?)await fixture.Database.HashGetAsync(Redis.UsersKey(2), "sess_layout"));
        Assert.Equal("{" + Redis.ServiceId + "/deadlines/2}/due", (string?)Redis.DueKey(2));
        Assert.Equal("{" + Redis.ServiceId + "/deadlines/2}/users", (string?)Redis.UsersKey(2));
    }

    [Fact]
    public async Task Removes_take_the_hash_field_with_the_sorted_set_member()
    {
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Index.UpsertAsync($"sess_bulk_{i:D3}", "u", T0, 4).AsTask()));
        Assert.Equal(200, await fixture.Database.SortedSetLengthAsync(Redis.DueKey(4)));
        Assert.Equal(200, await fixture.Database.HashLengthAsync(Redis.UsersKey(4)));
        await Task.WhenAll(Enumerable.Range(0, 200).Where(i => i % 2 == 0).Select(i => Index.RemoveAsync($"sess_bulk_{i:D3}", 4).AsTask()));
        Assert.Equal(100, await fixture.Database.SortedSetLengthAsync(Redis.DueKey(4)));
        Assert.Equal(100, await fixture.Database.HashLengthAsync(Redis.UsersKey(4)));
    }

    [Fact]
    public void Scores_truncate_toward_earlier_instants_before_the_epoch_too()
    {
        var early = DateTimeOffset.UnixEpoch.AddTicks(-7);
        Assert.True(RedisSessionDeadlineIndex.FromScore(RedisSessionDeadlineIndex.ToScore(early)) <= early);
    }
}
