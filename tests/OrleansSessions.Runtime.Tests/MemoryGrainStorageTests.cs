using OrleansSessions.Runtime.Storage;
using OrleansSessions.Storage;

namespace OrleansSessions.Runtime.Tests;

public sealed class MemoryGrainStorageTests
{
    private static readonly GrainId Grain = new(7, "k");

    [Fact]
    public async Task ETags_are_checked_exactly_before_and_after_the_shared_versions()
    {
        var storage = new MemoryGrainStorage();
        var data = new byte[] { 1 };
        string? etag = null;
        for (var i = 0; i < 16_400; i++)
        {
            var previous = etag;
            etag = await storage.WriteAsync("s", Grain, data, etag, default);
            Assert.Equal((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), etag);
            if (i is 10 or 16_390)
            {
                // The version just replaced, and other spellings of the current one, no longer match.
                await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync("s", Grain, data, previous, default));
                await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync("s", Grain, data, "0" + etag, default));
                await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync("s", Grain, data, "+" + etag, default));
                await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteAsync("s", Grain, data, null, default));
            }
        }
        var record = await storage.ReadAsync("s", Grain, default);
        Assert.Equal(etag, record.ETag);
        await storage.ClearAsync("s", Grain, etag, default);
        Assert.Null((await storage.ReadAsync("s", Grain, default)).Data);
    }

    [Fact]
    public async Task A_read_is_a_copy_that_later_in_place_writes_do_not_change()
    {
        var storage = new MemoryGrainStorage();
        var etag = storage.Write("s", Grain, [1, 2, 3, 4], null);
        var before = await storage.ReadAsync("s", Grain, default);
        etag = storage.Write("s", Grain, [9, 9], etag);
        etag = storage.Write("s", Grain, new byte[600], etag);
        Assert.Equal([1, 2, 3, 4], before.Data);
        Assert.Equal(600, (await storage.ReadAsync("s", Grain, default)).Data!.Length);
        storage.Write("s", Grain, [7], etag);
        Assert.Equal([7], (await storage.ReadAsync("s", Grain, default)).Data);
    }

    [Fact]
    public async Task Concurrent_writers_with_the_same_etag_exactly_one_wins_and_a_cleared_record_stays_gone()
    {
        var storage = new MemoryGrainStorage();
        var etag = storage.Write("s", Grain, [0], null);
        var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() =>
        {
            try
            {
                return storage.Write("s", Grain, [(byte)i], etag);
            }
            catch (InconsistentStateException)
            {
                return null;
            }
        })));
        var winner = Assert.Single(results, r => r is not null);
        await storage.ClearAsync("s", Grain, winner, default);
        Assert.Throws<InconsistentStateException>(() => storage.Write("s", Grain, [1], winner));
        Assert.Null((await storage.ReadAsync("s", Grain, default)).Data);
        Assert.Equal(0, storage.Count);
    }
}
