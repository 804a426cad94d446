using System.Collections.Concurrent;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;
using Xunit;

namespace OrleansSessions.Testing;

/// <summary>
/// The <see cref="ISessionEventLog"/> contract, run against every provider: a test class per backend derives from it
/// and supplies a fresh, empty log (as <see cref="SessionDeadlineIndexContract"/> is run). Shared source, compiled into
/// each backend's test project.
/// </summary>
public abstract class SessionEventLogContract : IAsyncLifetime
{
    /// <summary>A time far from the test run's clock, so no provider's "now" matters.</summary>
    protected static readonly DateTimeOffset T0 = new(2030, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private readonly Lock _gate = new();
    private ISessionEventLog? _log;

    /// <summary>The log under test: one per test, empty, invisible to other tests (made once, whichever task asks first).</summary>
    protected ISessionEventLog Log
    {
        get
        {
            lock (_gate)
            {
                return _log ??= CreateLog();
            }
        }
    }

    /// <summary>A new, empty log (its own service id where the provider has one).</summary>
    protected abstract ISessionEventLog CreateLog();

    /// <summary>How many events the concurrency tests append (a remote provider pays a round trip for each).</summary>
    protected virtual int ConcurrentAppends => 2000;

    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Disposes the log when it is disposable (a provider's pending writes end with it).</summary>
    public virtual async Task DisposeAsync()
    {
        if (_log is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }

    /// <summary>An event of session <paramref name="sessionId"/> at <paramref name="at"/>.</summary>
    protected static SessionEvent Event(string sessionId, DateTimeOffset at, SessionEventType type = SessionEventType.Created)
        => new()
        {
            Type = type,
            At = at,
            Session = new SessionInfo
            {
                SessionId = sessionId,
                UserId = "user_" + sessionId,
                CreatedAt = T0,
                LastActivity = at,
                ExpiresAt = at.AddMinutes(30),
                IdleTimeout = TimeSpan.FromMinutes(30),
                AbsoluteTimeout = TimeSpan.FromHours(8),
            },
        };

    [Fact]
    public async Task Positions_are_consecutive_from_one_in_each_partition()
    {
        Assert.Equal(1, await Log.AppendAsync(0, 1, Event("sess_a", T0)));
        Assert.Equal(2, await Log.AppendAsync(0, 1, Event("sess_b", T0)));
        Assert.Equal(1, await Log.AppendAsync(5, 1, Event("sess_c", T0)));
        Assert.Equal(3, await Log.AppendAsync(0, 2, Event("sess_a", T0.AddSeconds(1), SessionEventType.Closed)));
        Assert.Equal(2, await Log.AppendAsync(5, 2, Event("sess_c", T0.AddSeconds(1), SessionEventType.Expired)));

        var read = await Log.ReadAsync(0, 0, 100);
        Assert.Equal([1L, 2L, 3L], read.Select(e => e.Position));
        Assert.Equal(Event("sess_a", T0), read[0].Event);
        Assert.Equal(Event("sess_b", T0), read[1].Event);
        Assert.Equal(Event("sess_a", T0.AddSeconds(1), SessionEventType.Closed), read[2].Event);
        Assert.Equal(
            [new LoggedSessionEvent(1, Event("sess_c", T0)), new LoggedSessionEvent(2, Event("sess_c", T0.AddSeconds(1), SessionEventType.Expired))],
            await Log.ReadAsync(5, 0, 100));
    }

    [Fact]
    public async Task Appending_an_event_again_returns_its_position_and_consumes_none()
    {
        Assert.Equal(1, await Log.AppendAsync(2, 1, Event("sess_a", T0)));
        Assert.Equal(1, await Log.AppendAsync(2, 1, Event("sess_a", T0)));
        Assert.Equal(2, await Log.AppendAsync(2, 1, Event("sess_b", T0)));   // the same sequence number of another session
        Assert.Equal(3, await Log.AppendAsync(2, 2, Event("sess_a", T0.AddSeconds(1), SessionEventType.Closed)));
        Assert.Equal(1, await Log.AppendAsync(2, 1, Event("sess_a", T0)));
        // A repeat keeps the event first recorded, whatever it carries now.
        Assert.Equal(2, await Log.AppendAsync(2, 1, Event("sess_b", T0.AddHours(1), SessionEventType.Evicted)));

        Assert.Equal(new SessionEventLogBounds(0, 3), await Log.BoundsAsync(2));
        var read = await Log.ReadAsync(2, 0, 100);
        Assert.Equal([("sess_a", 1L), ("sess_b", 2L), ("sess_a", 3L)], read.Select(e => (e.Event.Session.SessionId, e.Position)));
        Assert.Equal(Event("sess_b", T0), read[1].Event);
    }

    [Fact]
    public async Task Negative_and_large_sequence_numbers_are_events_of_their_own()
    {
        // The session grain records an "expiring" warning under minus its deadline's ticks.
        var warning = -T0.AddMinutes(30).UtcTicks;
        Assert.Equal(1, await Log.AppendAsync(1, 1, Event("sess_a", T0)));
        Assert.Equal(2, await Log.AppendAsync(1, warning, Event("sess_a", T0.AddMinutes(28), SessionEventType.Expiring)));
        Assert.Equal(3, await Log.AppendAsync(1, long.MaxValue, Event("sess_a", T0.AddMinutes(29))));
        Assert.Equal(2, await Log.AppendAsync(1, warning, Event("sess_a", T0.AddMinutes(28), SessionEventType.Expiring)));
        Assert.Equal(4, await Log.AppendAsync(1, -warning, Event("sess_a", T0.AddMinutes(30), SessionEventType.Expired)));
        Assert.Equal(new SessionEventLogBounds(0, 4), await Log.BoundsAsync(1));
    }

    [Fact]
    public async Task Read_returns_the_events_after_a_position_up_to_the_limit()
    {
        for (var i = 1; i <= 10; i++)
        {
            await Log.AppendAsync(3, 1, Event($"sess_{i:D2}", T0.AddSeconds(i)));
        }
        Assert.Equal([1L, 2L, 3L], (await Log.ReadAsync(3, 0, 3)).Select(e => e.Position));
        Assert.Equal([4L, 5L, 6L, 7L, 8L, 9L, 10L], (await Log.ReadAsync(3, 3, 100)).Select(e => e.Position));
        Assert.Equal("sess_05", (await Log.ReadAsync(3, 4, 1)).Single().Event.Session.SessionId);
        Assert.Equal([10L], (await Log.ReadAsync(3, 9, 1)).Select(e => e.Position));
        Assert.Empty(await Log.ReadAsync(3, 10, 100));
        Assert.Empty(await Log.ReadAsync(3, 1000, 100));
        Assert.Empty(await Log.ReadAsync(3, long.MaxValue, 100));
        Assert.Empty(await Log.ReadAsync(4, 0, 100));
    }

    [Fact]
    public async Task Bounds_of_a_partition_never_written_are_zero()
    {
        Assert.Equal(new SessionEventLogBounds(0, 0), await Log.BoundsAsync(0));
        Assert.Equal(new SessionEventLogBounds(0, 0), await Log.BoundsAsync(63));
        Assert.Empty(await Log.ReadAsync(63, 0, 10));
        Assert.Equal(0, await Log.TrimAsync(63, T0.AddYears(1)));
        Assert.Equal(new SessionEventLogBounds(0, 0), await Log.BoundsAsync(63));
    }

    [Fact]
    public async Task Trim_removes_the_events_before_a_time_and_remembers_the_last_position_it_removed()
    {
        for (var i = 0; i < 4; i++)
        {
            await Log.AppendAsync(6, 1, Event($"sess_{i}", T0.AddSeconds(i)));
        }
        Assert.Equal(2, await Log.TrimAsync(6, T0.AddSeconds(2)));
        Assert.Equal(new SessionEventLogBounds(2, 4), await Log.BoundsAsync(6));
        Assert.Equal([3L, 4L], (await Log.ReadAsync(6, 0, 10)).Select(e => e.Position));
        Assert.Equal([3L, 4L], (await Log.ReadAsync(6, 1, 10)).Select(e => e.Position));
        Assert.Equal(0, await Log.TrimAsync(6, T0.AddSeconds(2)));

        Assert.Equal(2, await Log.TrimAsync(6, T0.AddMinutes(1)));
        Assert.Equal(new SessionEventLogBounds(4, 4), await Log.BoundsAsync(6));
        Assert.Empty(await Log.ReadAsync(6, 0, 10));

        // Positions go on after the trimmed ones; none is used twice.
        Assert.Equal(5, await Log.AppendAsync(6, 1, Event("sess_new", T0.AddMinutes(2))));
        Assert.Equal([5L], (await Log.ReadAsync(6, 0, 10)).Select(e => e.Position));
        Assert.Equal(new SessionEventLogBounds(4, 5), await Log.BoundsAsync(6));
    }

    [Fact]
    public async Task Trim_leaves_events_at_the_time_and_later_and_other_partitions()
    {
        await Log.AppendAsync(1, 1, Event("sess_a", T0));
        await Log.AppendAsync(1, 1, Event("sess_b", T0.AddSeconds(10)));
        await Log.AppendAsync(2, 1, Event("sess_c", T0));

        Assert.Equal(1, await Log.TrimAsync(1, T0.AddSeconds(10)));
        Assert.Equal("sess_b", (await Log.ReadAsync(1, 0, 10)).Single().Event.Session.SessionId);
        Assert.Equal(new SessionEventLogBounds(0, 1), await Log.BoundsAsync(2));
        Assert.Single(await Log.ReadAsync(2, 0, 10));
    }

    [Fact]
    public async Task Trim_goes_oldest_first_and_stops_at_the_first_event_not_before_the_time()
    {
        // An outbox flushed late records an old event after newer ones: positions are the log's order, times are not.
        await Log.AppendAsync(0, 1, Event("sess_a", T0));
        await Log.AppendAsync(0, 1, Event("sess_b", T0.AddMinutes(5)));
        await Log.AppendAsync(0, 1, Event("sess_c", T0.AddMinutes(1)));

        Assert.Equal(1, await Log.TrimAsync(0, T0.AddMinutes(2)));
        Assert.Equal(new SessionEventLogBounds(1, 3), await Log.BoundsAsync(0));
        Assert.Equal([2L, 3L], (await Log.ReadAsync(0, 0, 10)).Select(e => e.Position));

        Assert.Equal(2, await Log.TrimAsync(0, T0.AddMinutes(6)));
        Assert.Equal(new SessionEventLogBounds(3, 3), await Log.BoundsAsync(0));
    }

    [Fact]
    public async Task Trim_removes_more_events_than_fit_in_one_page_of_work()
    {
        const int Events = 5000;
        for (var i = 0; i < Events - 1; i += 500)
        {
            await Task.WhenAll(Enumerable.Range(i, Math.Min(500, Events - 1 - i)).Select(k => Log.AppendAsync(7, 1, Event($"sess_{k:D5}", T0.AddMilliseconds(k % 1000))).AsTask()));
        }
        await Log.AppendAsync(7, 1, Event("sess_last", T0.AddMinutes(1)));
        Assert.Equal(Events - 1, await Log.TrimAsync(7, T0.AddSeconds(1)));
        Assert.Equal(new SessionEventLogBounds(Events - 1, Events), await Log.BoundsAsync(7));
        Assert.Equal([(long)Events], (await Log.ReadAsync(7, 0, 10)).Select(e => e.Position));
    }

    [Fact]
    public async Task A_repeat_after_its_event_was_trimmed_does_not_bring_the_event_back_before_the_trimmed_position()
    {
        await Log.AppendAsync(4, 1, Event("sess_a", T0));
        await Log.AppendAsync(4, 1, Event("sess_b", T0.AddMinutes(1)));
        Assert.Equal(1, await Log.TrimAsync(4, T0.AddSeconds(1)));
        // The session grain drops outbox events older than the retention, so such a repeat is rare: either answer
        // (the old position, or a new one after the head) keeps every reader's view consistent.
        var position = await Log.AppendAsync(4, 1, Event("sess_a", T0));
        Assert.True(position is 1 or 3, $"position {position}");
        var read = await Log.ReadAsync(4, 0, 10);
        Assert.Equal(Enumerable.Range(2, read.Count).Select(p => (long)p), read.Select(e => e.Position));
    }

    [Fact]
    public async Task Events_come_back_as_they_were_appended()
    {
        var info = new SessionInfo
        {
            SessionId = "sess_full",
            UserId = "user_ü",
            CreatedAt = T0.AddTicks(1234567),
            LastActivity = T0.AddMinutes(3).AddTicks(7),
            ExpiresAt = T0.AddMinutes(33),
            Status = SessionStatus.Closed,
            EndedAt = T0.AddMinutes(4),
            EndReason = EndReason.Logout,
            Labels = new Dictionary<string, string> { ["channel"] = "web", ["locale"] = "de-DE" },
            IdleTimeout = TimeSpan.FromMinutes(30),
            AbsoluteTimeout = TimeSpan.FromHours(8),
            DataVersion = 42,
            MessageCount = 7,
        };
        var appended = new SessionEvent { Type = SessionEventType.Closed, Session = info, At = T0.AddMinutes(4).AddTicks(3) };
        await Log.AppendAsync(3, 9, appended);

        var read = Assert.Single(await Log.ReadAsync(3, 0, 10));
        Assert.Equal(appended with { Session = info with { Labels = null } }, read.Event with { Session = read.Event.Session with { Labels = null } });
        Assert.Equal(info.Labels, read.Event.Session.Labels);
        Assert.Null(read.Event.Cursor);
    }

    [Fact]
    public async Task Concurrent_appends_to_one_partition_get_consecutive_positions_and_record_every_event_once()
    {
        var count = ConcurrentAppends;
        var positions = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
        {
            var sessionId = $"sess_many_{i:D6}";
            var position = await Log.AppendAsync(5, 1, Event(sessionId, T0.AddMilliseconds(i)));
            // A session's repeat (its grain retrying after a lost answer) gets the same position.
            if (i % 10 == 0)
            {
                Assert.Equal(position, await Log.AppendAsync(5, 1, Event(sessionId, T0.AddMilliseconds(i))));
            }
            Assert.True(positions.TryAdd(sessionId, position));
        });

        Assert.Equal(Enumerable.Range(1, count).Select(p => (long)p), positions.Values.Order());
        Assert.Equal(new SessionEventLogBounds(0, count), await Log.BoundsAsync(5));
        var read = await ReadAllAsync(5, 0, 333);
        Assert.Equal(Enumerable.Range(1, count).Select(p => (long)p), read.Select(e => e.Position));
        Assert.All(read, e => Assert.Equal(positions[e.Event.Session.SessionId], e.Position));
    }

    [Fact]
    public async Task Concurrent_repeats_of_one_event_record_it_once()
    {
        // The session grain never appends one event concurrently, but a call cut off by a crash may still be running
        // in the backend when the next activation repeats it.
        const int Events = 50;
        var answers = await Task.WhenAll(Enumerable.Range(0, Events * 4).Select(i =>
            Log.AppendAsync(6, 1 + (i % Events), Event("sess_repeat", T0.AddSeconds(i % Events))).AsTask()));
        for (var i = Events; i < answers.Length; i++)
        {
            Assert.Equal(answers[i % Events], answers[i]);
        }
        Assert.Equal(Enumerable.Range(1, Events).Select(p => (long)p), answers.Take(Events).Order());
        Assert.Equal(new SessionEventLogBounds(0, Events), await Log.BoundsAsync(6));
        Assert.Equal(Events, (await Log.ReadAsync(6, 0, 1000)).Count);
    }

    [Fact]
    public async Task Appends_to_different_partitions_are_independent()
    {
        const int Partitions = 8;
        var perPartition = Math.Max(ConcurrentAppends / Partitions, 10);
        var positions = new ConcurrentDictionary<(int Partition, int Index), long>();
        await Parallel.ForEachAsync(Enumerable.Range(0, Partitions * perPartition), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
        {
            var (partition, index) = (i % Partitions, i / Partitions);
            positions[(partition, index)] = await Log.AppendAsync(partition, 1, Event($"sess_{partition}_{index:D5}", T0.AddMilliseconds(index)));
        });

        for (var p = 0; p < Partitions; p++)
        {
            Assert.Equal(Enumerable.Range(1, perPartition).Select(x => (long)x), positions.Where(e => e.Key.Partition == p).Select(e => e.Value).Order());
            Assert.Equal(new SessionEventLogBounds(0, perPartition), await Log.BoundsAsync(p));
            var read = await ReadAllAsync(p, 0, 500);
            Assert.Equal(perPartition, read.Count);
            Assert.All(read, e => Assert.StartsWith($"sess_{p}_", e.Event.Session.SessionId, StringComparison.Ordinal));
        }

        // Trimming one partition leaves the others.
        Assert.Equal(perPartition, await Log.TrimAsync(3, T0.AddDays(1)));
        Assert.Equal(new SessionEventLogBounds(perPartition, perPartition), await Log.BoundsAsync(3));
        Assert.Equal(new SessionEventLogBounds(0, perPartition), await Log.BoundsAsync(4));
        Assert.Equal(perPartition, (await ReadAllAsync(4, 0, 500)).Count);
    }

    [Fact]
    public async Task A_reader_during_appends_never_sees_a_position_before_an_earlier_one_is_visible()
    {
        var count = ConcurrentAppends;
        var appending = Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
            await Log.AppendAsync(2, 1, Event($"sess_seen_{i:D6}", T0)));

        // Read what is visible, again and again, until every event was read: each read must continue exactly after
        // the last position read, or a reader would take a later event for a gap.
        long after = 0;
        while (after < count)
        {
            var finished = appending.IsCompleted;
            var read = await Log.ReadAsync(2, after, 50);
            for (var k = 0; k < read.Count; k++)
            {
                Assert.Equal(after + 1 + k, read[k].Position);
            }
            after += read.Count;
            if (read.Count == 0)
            {
                if (finished)
                {
                    await appending; // its failure, if any
                    Assert.Fail($"read {after} of {count} events after every append returned");
                }
                await Task.Yield();
            }
        }
        await appending;
        Assert.Equal(new SessionEventLogBounds(0, count), await Log.BoundsAsync(2));
    }

    [Fact]
    public async Task Trims_during_appends_remove_each_event_once_and_leave_the_rest_consecutive()
    {
        var count = ConcurrentAppends;
        var log = Log;
        var appending = Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
            await log.AppendAsync(1, 1, Event($"sess_trim_{i:D6}", T0)));
        var trimmed = 0;
        while (!appending.IsCompleted)
        {
            trimmed += await log.TrimAsync(1, T0.AddSeconds(1));
            var bounds = await log.BoundsAsync(1);
            var read = await log.ReadAsync(1, 0, 20);
            for (var k = 0; k < read.Count; k++)
            {
                Assert.True(read[k].Position > bounds.TrimmedThrough, $"position {read[k].Position} read after {bounds.TrimmedThrough} was trimmed");
                Assert.Equal(read[0].Position + k, read[k].Position);
            }
            await Task.Yield();
        }
        await appending;
        trimmed += await log.TrimAsync(1, T0.AddSeconds(1));

        Assert.Equal(count, trimmed);
        Assert.Equal(new SessionEventLogBounds(count, count), await log.BoundsAsync(1));
        Assert.Empty(await log.ReadAsync(1, 0, 10));
    }

    [Fact]
    public async Task Bad_arguments_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Log.ReadAsync(0, 0, 0).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Log.ReadAsync(-1, 0, 10).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Log.AppendAsync(-1, 1, Event("sess_a", T0)).AsTask());
        await Assert.ThrowsAsync<ArgumentNullException>(() => Log.AppendAsync(0, 1, null!).AsTask());
        Assert.Equal(new SessionEventLogBounds(0, 0), await Log.BoundsAsync(0));
    }

    [Fact]
    public async Task Cancelled_calls_throw_and_append_nothing()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Log.AppendAsync(0, 1, Event("sess_cancel", T0), cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Log.ReadAsync(0, 0, 10, cancelled.Token).AsTask());
        Assert.Equal(new SessionEventLogBounds(0, 0), await Log.BoundsAsync(0));
        Assert.Empty(await Log.ReadAsync(0, 0, 10));
    }

    /// <summary>Every event of <paramref name="partition"/> after <paramref name="after"/>, read in pages.</summary>
    protected async Task<List<LoggedSessionEvent>> ReadAllAsync(int partition, long after, int page)
    {
        var all = new List<LoggedSessionEvent>();
        while (true)
        {
            var read = await Log.ReadAsync(partition, after, page);
            if (read.Count == 0)
            {
                return all;
            }
            all.AddRange(read);
            after = read[^1].Position;
        }
    }
}
