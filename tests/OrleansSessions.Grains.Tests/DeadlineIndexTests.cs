using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

public sealed class DeadlineIndexTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 14, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Read_due_returns_rows_at_or_before_now_ordered_by_deadline_up_to_the_limit()
    {
        var index = new InMemorySessionDeadlineIndex();
        await index.UpsertAsync("c", "u", T0.AddMinutes(3), 0);
        await index.UpsertAsync("a", "u", T0.AddMinutes(1), 0);
        await index.UpsertAsync("b", "u", T0.AddMinutes(2), 0);
        await index.UpsertAsync("late", "u", T0.AddMinutes(10), 0);
        await index.UpsertAsync("other-partition", "u", T0, 1);

        Assert.Equal(["a", "b", "c"], (await index.ReadDueAsync(0, T0.AddMinutes(3), 100)).Select(e => e.SessionId));
        Assert.Equal(["a", "b"], (await index.ReadDueAsync(0, T0.AddMinutes(3), 2)).Select(e => e.SessionId));
        Assert.Empty(await index.ReadDueAsync(0, T0.AddMinutes(1).AddTicks(-1), 100));
        Assert.Equal(["other-partition"], (await index.ReadDueAsync(1, T0, 100)).Select(e => e.SessionId));
        Assert.Empty(await index.ReadDueAsync(7, T0.AddYears(1), 100));
        // Reading removes nothing.
        Assert.Equal(5, index.Count);
    }

    [Fact]
    public async Task Upsert_replaces_the_deadline_and_remove_deletes_the_row()
    {
        var index = new InMemorySessionDeadlineIndex();
        await index.UpsertAsync("s", "user", T0, 2);
        await index.UpsertAsync("s", "user", T0.AddMinutes(30), 2);
        Assert.Empty(await index.ReadDueAsync(2, T0.AddMinutes(29), 10));
        var row = Assert.Single(await index.ReadDueAsync(2, T0.AddMinutes(30), 10));
        Assert.Equal(new SessionDeadlineEntry("s", "user", T0.AddMinutes(30)), row);

        await index.RemoveAsync("s", 2);
        await index.RemoveAsync("s", 2);
        Assert.Equal(0, index.Count);
        Assert.Empty(await index.ReadDueAsync(2, DateTimeOffset.MaxValue, 10));
    }

    [Fact]
    public async Task Rows_with_equal_deadlines_are_all_returned_in_id_order()
    {
        var index = new InMemorySessionDeadlineIndex();
        for (var i = 9; i >= 0; i--)
        {
            await index.UpsertAsync($"s{i}", "u", T0, 0);
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"s{i}"), (await index.ReadDueAsync(0, T0, 100)).Select(e => e.SessionId));
    }

    [Fact]
    public async Task Concurrent_writers_leave_a_consistent_index()
    {
        var index = new InMemorySessionDeadlineIndex();
        var ids = Enumerable.Range(0, 20_000).Select(_ => SessionKeys.NewSessionId()).ToArray();
        await Parallel.ForEachAsync(ids, async (id, _) =>
        {
            var partition = SessionDeadlinePartitioner.GetPartition(id, 8);
            await index.UpsertAsync(id, "u", T0.AddSeconds(id[5] % 7), partition);
            await index.UpsertAsync(id, "u", T0.AddMinutes(1), partition);
            if (id[6] < '8')
            {
                await index.RemoveAsync(id, partition);
            }
        });
        var expected = ids.Count(id => id[6] >= '8');
        Assert.Equal(expected, index.Count);
        var due = 0;
        for (var p = 0; p < 8; p++)
        {
            Assert.Empty(await index.ReadDueAsync(p, T0.AddSeconds(59), 100_000));
            due += (await index.ReadDueAsync(p, T0.AddMinutes(1), 100_000)).Count;
        }
        Assert.Equal(expected, due);
    }

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
