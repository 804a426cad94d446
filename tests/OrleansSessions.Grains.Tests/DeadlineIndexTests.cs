using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>The deadline index contract on the in-memory default.</summary>
public sealed class InMemorySessionDeadlineIndexTests : SessionDeadlineIndexContract
{
    protected override ISessionDeadlineIndex CreateIndex() => new InMemorySessionDeadlineIndex();

    protected override int ConcurrentSessions => 20_000;

    [Fact]
    public async Task Count_is_the_rows_held_and_reading_changes_it_not()
    {
        var index = (InMemorySessionDeadlineIndex)Index;
        await index.UpsertAsync("sess_a", "u", T0, 0);
        await index.UpsertAsync("sess_b", "u", T0, 1);
        await index.UpsertAsync("sess_a", "u", T0.AddMinutes(1), 0);
        Assert.Single(await index.ReadDueAsync(1, T0, 10));
        Assert.Equal(2, index.Count);
        await index.RemoveAsync("sess_a", 0);
        Assert.Equal(1, index.Count);
    }
}

public sealed class SessionDeadlinePartitionerTests
{
    private const uint PinnedHash = 515958199u;

    [Fact]
    public void Partition_is_the_stable_hash_modulo_the_partition_count()
    {
        var id = "sess_0e5e4e0f-9b0c-4d6a-8f7e-1a2b3c4d5e6f";
        // Pinned: rows stored by one version are read by the next, so the hash never changes.
        Assert.Equal(PinnedHash, SessionDeadlinePartitioner.StableHash(id));
        Assert.Equal((int)(PinnedHash % 8), SessionDeadlinePartitioner.GetPartition(id, 8));
        Assert.Equal(0, SessionDeadlinePartitioner.GetPartition(id, 1));
        var counts = new int[8];
        for (var i = 0; i < 8_000; i++)
        {
            counts[SessionDeadlinePartitioner.GetPartition(SessionKeys.NewSessionId(), 8)]++;
        }
        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
    }
}
