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
}
