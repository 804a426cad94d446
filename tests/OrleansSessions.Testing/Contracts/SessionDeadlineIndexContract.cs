using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;
using Xunit;

namespace OrleansSessions.Testing;

/// <summary>
/// The <see cref="ISessionDeadlineIndex"/> contract, run against every provider: a test class per backend derives
/// from it and supplies a fresh, empty index (as Orleans' ReminderTableTestsBase is run per reminder table). Shared
/// source, compiled into each backend's test project (it needs xunit, which the shared test library does not take).
/// </summary>
public abstract class SessionDeadlineIndexContract
{
    /// <summary>A time far from the test run's clock, so no provider's "now" matters.</summary>
    protected static readonly DateTimeOffset T0 = new(2030, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private readonly Lock _gate = new();
    private ISessionDeadlineIndex? _index;

    /// <summary>The index under test: one per test, empty, invisible to other tests (made once, whichever task asks first).</summary>
    protected ISessionDeadlineIndex Index
    {
        get
        {
            lock (_gate)
            {
                return _index ??= CreateIndex();
            }
        }
    }

    /// <summary>A new, empty index (its own service id where the provider has one).</summary>
    protected abstract ISessionDeadlineIndex CreateIndex();

    /// <summary>How many sessions the concurrency tests write (a remote provider pays a round trip for each).</summary>
    protected virtual int ConcurrentSessions => 2000;

    [Fact]
    public async Task Read_due_returns_rows_at_or_before_now_ordered_by_deadline_then_id()
    {
        await Index.UpsertAsync("sess_b", "u1", T0.AddSeconds(1), 0);
        await Index.UpsertAsync("sess_a", "u1", T0.AddSeconds(1), 0);
        await Index.UpsertAsync("sess_c", "u2", T0, 0);
        await Index.UpsertAsync("sess_late", "u2", T0.AddSeconds(2), 0);

        var due = await Index.ReadDueAsync(0, T0.AddSeconds(1), 100);
        Assert.Equal(["sess_c", "sess_a", "sess_b"], due.Select(e => e.SessionId).ToArray());
        Assert.Equal(new SessionDeadlineEntry("sess_c", "u2", T0), due[0]);

        // Reading removes nothing; the limit keeps the order.
        Assert.Equal(["sess_c", "sess_a"], (await Index.ReadDueAsync(0, T0.AddSeconds(1), 2)).Select(e => e.SessionId).ToArray());
        Assert.Empty(await Index.ReadDueAsync(0, T0.AddTicks(-10), 100));
        Assert.Equal(4, (await Index.ReadDueAsync(0, T0.AddDays(1), 100)).Count);
    }

    [Fact]
    public async Task Read_range_returns_rows_between_both_bounds_inclusive_ordered_by_deadline_then_id()
    {
        await Index.UpsertAsync("sess_early", "u1", T0.AddSeconds(-5), 0);
        await Index.UpsertAsync("sess_b", "u1", T0, 0);
        await Index.UpsertAsync("sess_a", "u2", T0, 0);
        await Index.UpsertAsync("sess_mid", "u2", T0.AddSeconds(3), 0);
        await Index.UpsertAsync("sess_end", "u3", T0.AddSeconds(10), 0);
        await Index.UpsertAsync("sess_after", "u3", T0.AddSeconds(11), 0);
        await Index.UpsertAsync("sess_other", "u3", T0.AddSeconds(3), 1);

        var range = await Index.ReadRangeAsync(0, T0, T0.AddSeconds(10), 100);
        Assert.Equal(["sess_a", "sess_b", "sess_mid", "sess_end"], range.Select(e => e.SessionId).ToArray());
        Assert.Equal(new SessionDeadlineEntry("sess_mid", "u2", T0.AddSeconds(3)), range[2]);

        // Paging as a janitor partition does: the limit keeps the order, and a page starts at the last deadline read.
        var first = await Index.ReadRangeAsync(0, T0, T0.AddSeconds(10), 2);
        Assert.Equal(["sess_a", "sess_b"], first.Select(e => e.SessionId).ToArray());
        var next = await Index.ReadRangeAsync(0, first[^1].Deadline, T0.AddSeconds(10), 2);
        Assert.Equal(["sess_a", "sess_b"], next.Select(e => e.SessionId).ToArray());
        Assert.Equal(["sess_mid", "sess_end"], (await Index.ReadRangeAsync(0, T0.AddTicks(10), T0.AddSeconds(10), 2)).Select(e => e.SessionId).ToArray());

        Assert.Empty(await Index.ReadRangeAsync(0, T0.AddSeconds(4), T0.AddSeconds(9), 100));
        Assert.Empty(await Index.ReadRangeAsync(0, T0.AddSeconds(10), T0, 100));
        Assert.Equal(6, (await Index.ReadRangeAsync(0, DateTimeOffset.MinValue, T0.AddDays(1), 100)).Count);
        Assert.Equal(["sess_other"], (await Index.ReadRangeAsync(1, T0, T0.AddSeconds(10), 100)).Select(e => e.SessionId).ToArray());
    }

    [Fact]
    public async Task Rows_with_equal_deadlines_are_all_returned_in_id_order()
    {
        for (var i = 9; i >= 0; i--)
        {
            await Index.UpsertAsync($"sess_{i}", "u", T0, 0);
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"sess_{i}"), (await Index.ReadDueAsync(0, T0, 100)).Select(e => e.SessionId));
    }

    [Fact]
    public async Task Rows_are_read_by_partition_only()
    {
        await Index.UpsertAsync("sess_p0", "u", T0, 0);
        await Index.UpsertAsync("sess_p3", "u", T0, 3);
        Assert.Equal("sess_p3", Assert.Single(await Index.ReadDueAsync(3, T0, 10)).SessionId);
        Assert.Equal("sess_p0", Assert.Single(await Index.ReadDueAsync(0, T0, 10)).SessionId);
        Assert.Empty(await Index.ReadDueAsync(7, T0.AddYears(1), 10));
    }

    [Fact]
    public async Task Upsert_replaces_the_deadline_and_the_user_and_remove_deletes_the_row()
    {
        await Index.UpsertAsync("sess_x", "u", T0, 1);
        await Index.UpsertAsync("sess_x", "u2", T0.AddMinutes(30), 1);
        Assert.Empty(await Index.ReadDueAsync(1, T0.AddMinutes(29), 10));
        Assert.Equal(new SessionDeadlineEntry("sess_x", "u2", T0.AddMinutes(30)), Assert.Single(await Index.ReadDueAsync(1, T0.AddMinutes(30), 10)));

        await Index.RemoveAsync("sess_x", 1);
        Assert.Empty(await Index.ReadDueAsync(1, T0.AddDays(1), 10));
        await Index.RemoveAsync("sess_x", 1); // nothing to remove: no error
        await Index.RemoveAsync("sess_never", 1);
    }

    [Fact]
    public async Task Stored_deadline_never_exceeds_the_real_one()
    {
        var precise = T0.AddTicks(7); // 700 ns: finer than a database or a Redis score keeps
        await Index.UpsertAsync("sess_precise", "u", precise, 0);
        var row = Assert.Single(await Index.ReadDueAsync(0, precise, 10));
        Assert.True(row.Deadline <= precise, $"stored {row.Deadline:O} is later than {precise:O}");
        Assert.True(precise - row.Deadline < TimeSpan.FromMicroseconds(1));
    }

    [Fact]
    public async Task Concurrent_writers_of_distinct_sessions_are_all_durable()
    {
        var sessions = ConcurrentSessions;
        await Task.WhenAll(Enumerable.Range(0, sessions).Select(i =>
            Index.UpsertAsync($"sess_bulk_{i:D5}", $"user_{i % 97}", T0.AddMilliseconds(i), 4).AsTask()));

        var due = await Index.ReadDueAsync(4, T0.AddMilliseconds(sessions), sessions + 10);
        Assert.Equal(sessions, due.Count);
        Assert.Equal($"sess_bulk_{sessions - 1:D5}", due[^1].SessionId);

        // Concurrent removes of half of them.
        await Task.WhenAll(Enumerable.Range(0, sessions).Where(i => i % 2 == 0).Select(i =>
            Index.RemoveAsync($"sess_bulk_{i:D5}", 4).AsTask()));
        Assert.Equal(sessions / 2, (await Index.ReadDueAsync(4, T0.AddDays(1), sessions)).Count);
    }

    [Fact]
    public async Task Concurrent_upserts_and_removes_of_the_same_sessions_leave_a_consistent_index()
    {
        var ids = Enumerable.Range(0, ConcurrentSessions).Select(_ => SessionKeys.NewSessionId()).ToArray();
        await Parallel.ForEachAsync(ids, async (id, _) =>
        {
            var partition = SessionDeadlinePartitioner.GetPartition(id, 8);
            await Index.UpsertAsync(id, "u", T0.AddSeconds(id[5] % 7), partition);
            await Index.UpsertAsync(id, "u", T0.AddMinutes(1), partition);
            if (id[6] < '8')
            {
                await Index.RemoveAsync(id, partition);
            }
        });
        var expected = ids.Where(id => id[6] >= '8').Order(StringComparer.Ordinal).ToArray();
        var due = new List<string>();
        for (var p = 0; p < 8; p++)
        {
            Assert.Empty(await Index.ReadDueAsync(p, T0.AddSeconds(59), ids.Length));
            due.AddRange((await Index.ReadDueAsync(p, T0.AddMinutes(1), ids.Length)).Select(e => e.SessionId));
        }
        Assert.Equal(expected, due.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_random_sequence_reads_as_a_model_of_the_contract_does()
    {
        var model = new Dictionary<string, SessionDeadlineEntry>(StringComparer.Ordinal);
        var random = new Random(1234);
        for (var step = 0; step < 600; step++)
        {
            var id = $"sess_{random.Next(60):D2}";
            var partition = SessionDeadlinePartitioner.GetPartition(id, 4);
            if (random.Next(4) == 0)
            {
                model.Remove(id);
                await Index.RemoveAsync(id, partition);
            }
            else
            {
                var deadline = T0.AddMicroseconds(random.Next(1000) * 1000L); // microsecond precision: comparable exactly
                var user = $"user_{random.Next(5)}";
                model[id] = new SessionDeadlineEntry(id, user, deadline);
                await Index.UpsertAsync(id, user, deadline, partition);
            }
        }
        for (var partition = 0; partition < 4; partition++)
        {
            foreach (var (now, limit) in new[] { (T0.AddMilliseconds(300), 1000), (T0.AddSeconds(2), 1000), (T0.AddSeconds(2), 5) })
            {
                var expected = model.Values
                    .Where(e => SessionDeadlinePartitioner.GetPartition(e.SessionId, 4) == partition && e.Deadline <= now)
                    .OrderBy(e => e.Deadline).ThenBy(e => e.SessionId, StringComparer.Ordinal)
                    .Take(limit);
                Assert.Equal(expected, await Index.ReadDueAsync(partition, now, limit));
            }
        }
    }

    [Fact]
    public async Task Cancelled_calls_throw_and_write_nothing()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Index.UpsertAsync("sess_cancel", "u", T0, 0, cancelled.Token).AsTask());
        Assert.Empty(await Index.ReadDueAsync(0, T0.AddDays(1), 10));
    }
}
