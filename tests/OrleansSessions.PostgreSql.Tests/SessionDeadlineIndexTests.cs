using System.Net.Sockets;
using Npgsql;
using Orleans.Storage;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class SessionDeadlineIndexTests(PostgreSqlFixture fixture, ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2030, 5, 6, 7, 8, 9, TimeSpan.Zero);

    // Every test gets its own ServiceId: rows of other tests (and other runs) are invisible to it.
    private readonly PostgreSqlSessionDeadlineIndex _index = new(fixture.DataSource, PostgreSqlFixture.UniqueName("deadlines"));

    [Fact]
    public async Task Without_a_server_every_call_fails_as_storage_unavailable()
    {
        await using var nowhere = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Port = 1, Timeout = 2 }.ConnectionString);
        await using var index = new PostgreSqlSessionDeadlineIndex(nowhere, PostgreSqlFixture.UniqueName("deadlines"));
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => index.UpsertAsync("sess_x", "u", T0, 0).AsTask());
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => index.RemoveAsync("sess_x", 0).AsTask());
        var read = await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => index.ReadDueAsync(0, T0, 10).AsTask());
        Assert.StartsWith("The session storage (PostgreSQL) is unavailable: Failed to connect to ", read.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Npgsql_failures_anywhere_in_the_chain_are_storage_unavailable_and_cancellations_are_not()
    {
        var refused = new NpgsqlException("Failed to connect to 127.0.0.1:1", new SocketException((int)SocketError.ConnectionRefused));
        var unavailable = PostgreSqlStorageFailure.Translate(new InvalidOperationException("wrapped", refused));
        Assert.NotNull(unavailable);
        Assert.Equal($"The session storage (PostgreSQL) is unavailable: Failed to connect to 127.0.0.1:1 ({refused.InnerException!.Message})", unavailable.Message);
        Assert.Equal("storage_unavailable", SessionFailure.Classify(unavailable).Code);
        Assert.NotNull(PostgreSqlStorageFailure.Translate(new PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", PostgresErrorCodes.AdminShutdown)));
        Assert.Null(PostgreSqlStorageFailure.Translate(new OperationCanceledException("cancelled", new PostgresException("canceling statement", "ERROR", "ERROR", PostgresErrorCodes.QueryCanceled))));
        Assert.Null(PostgreSqlStorageFailure.Translate(new InconsistentStateException("Version conflict")));
        Assert.Null(PostgreSqlStorageFailure.Translate(new SocketException()));
    }

    [Fact]
    public async Task Read_due_returns_rows_at_or_before_now_ordered_by_deadline_then_id()
    {
        await _index.UpsertAsync("sess_b", "u1", T0.AddSeconds(1), 0);
        await _index.UpsertAsync("sess_a", "u1", T0.AddSeconds(1), 0);
        await _index.UpsertAsync("sess_c", "u2", T0, 0);
        await _index.UpsertAsync("sess_late", "u2", T0.AddSeconds(2), 0);

        var due = await _index.ReadDueAsync(0, T0.AddSeconds(1), 100);
        Assert.Equal(["sess_c", "sess_a", "sess_b"], due.Select(e => e.SessionId).ToArray());
        Assert.Equal(new SessionDeadlineEntry("sess_c", "u2", T0), due[0]);

        // Reading removes nothing; the limit keeps the order.
        Assert.Equal(["sess_c", "sess_a"], (await _index.ReadDueAsync(0, T0.AddSeconds(1), 2)).Select(e => e.SessionId).ToArray());
        Assert.Empty(await _index.ReadDueAsync(0, T0.AddTicks(-10), 100));
    }

    [Fact]
    public async Task Rows_are_read_by_partition_and_service_only()
    {
        await _index.UpsertAsync("sess_p0", "u", T0, 0);
        await _index.UpsertAsync("sess_p3", "u", T0, 3);
        Assert.Equal("sess_p3", Assert.Single(await _index.ReadDueAsync(3, T0, 10)).SessionId);
        Assert.Equal("sess_p0", Assert.Single(await _index.ReadDueAsync(0, T0, 10)).SessionId);

        var other = new PostgreSqlSessionDeadlineIndex(fixture.DataSource, PostgreSqlFixture.UniqueName("deadlines-other"));
        Assert.Empty(await other.ReadDueAsync(0, T0, 10));
        await other.RemoveAsync("sess_p0", 0); // another service's remove leaves this service's row
        Assert.Single(await _index.ReadDueAsync(0, T0, 10));
    }

    [Fact]
    public async Task Concurrent_upserts_and_removes_share_transactions_and_each_returns_after_its_commit()
    {
        const int Sessions = 60;
        var ids = Enumerable.Range(0, Sessions).Select(i => $"sess_group{i:D3}").ToArray();
        await Task.WhenAll(ids.Select(id => _index.UpsertAsync(id, "u", T0, 2).AsTask()));
        var afterUpserts = _index.Transactions;
        Assert.InRange(afterUpserts, 1, Sessions - 1);
        Assert.Equal(ids, (await _index.ReadDueAsync(2, T0, 1000)).Select(e => e.SessionId).ToArray());

        await Task.WhenAll(ids.Take(Sessions / 2).Select(id => _index.RemoveAsync(id, 2).AsTask())
            .Concat(ids.Skip(Sessions / 2).Select(id => _index.UpsertAsync(id, "u", T0.AddMinutes(1), 2).AsTask())));
        Assert.InRange(_index.Transactions - afterUpserts, 1, Sessions - 1);
        Assert.Empty(await _index.ReadDueAsync(2, T0, 1000));
        Assert.Equal(ids.Skip(Sessions / 2), (await _index.ReadDueAsync(2, T0.AddMinutes(1), 1000)).Select(e => e.SessionId));
    }

    [Fact]
    public async Task Upsert_replaces_the_deadline_and_remove_deletes_the_row()
    {
        await _index.UpsertAsync("sess_x", "u", T0, 1);
        await _index.UpsertAsync("sess_x", "u", T0.AddMinutes(30), 1);
        Assert.Empty(await _index.ReadDueAsync(1, T0.AddMinutes(29), 10));
        Assert.Equal(T0.AddMinutes(30), Assert.Single(await _index.ReadDueAsync(1, T0.AddMinutes(30), 10)).Deadline);

        await _index.RemoveAsync("sess_x", 1);
        Assert.Empty(await _index.ReadDueAsync(1, T0.AddDays(1), 10));
        await _index.RemoveAsync("sess_x", 1); // nothing to remove: no error
        await _index.RemoveAsync("sess_never", 1);
    }

    [Fact]
    public async Task Stored_deadline_never_exceeds_the_real_one()
    {
        var precise = T0.AddTicks(7); // 700 ns: finer than timestamptz keeps
        await _index.UpsertAsync("sess_precise", "u", precise, 0);
        var row = Assert.Single(await _index.ReadDueAsync(0, precise, 10));
        Assert.True(row.Deadline <= precise);
        Assert.True(precise - row.Deadline < TimeSpan.FromMicroseconds(1));
    }

    [Fact]
    public async Task Concurrent_writers_of_distinct_sessions_are_all_durable()
    {
        const int sessions = 2000;
        await Task.WhenAll(Enumerable.Range(0, sessions).Select(i =>
            _index.UpsertAsync($"sess_bulk_{i:D5}", $"user_{i % 97}", T0.AddMilliseconds(i), 4).AsTask()));

        var count = await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM {PostgreSqlSchema.DeadlinesTable} WHERE service_id = $1", _index.ServiceId);
        output.WriteLine($"{count} rows written");
        Assert.Equal(sessions, count);

        var due = await _index.ReadDueAsync(4, T0.AddMilliseconds(sessions), sessions + 10);
        Assert.Equal(sessions, due.Count);
        Assert.Equal($"sess_bulk_{sessions - 1:D5}", due[^1].SessionId);

        // Concurrent removes of half of them.
        await Task.WhenAll(Enumerable.Range(0, sessions).Where(i => i % 2 == 0).Select(i =>
            _index.RemoveAsync($"sess_bulk_{i:D5}", 4).AsTask()));
        Assert.Equal(sessions / 2, (await _index.ReadDueAsync(4, T0.AddDays(1), sessions)).Count);
    }

    [Fact]
    public async Task Behaves_like_the_in_memory_index_for_a_random_sequence()
    {
        var memory = new InMemorySessionDeadlineIndex();
        var random = new Random(1234);
        for (var step = 0; step < 600; step++)
        {
            var id = $"sess_{random.Next(60):D2}";
            var partition = SessionDeadlinePartitioner.GetPartition(id, 4);
            if (random.Next(4) == 0)
            {
                await memory.RemoveAsync(id, partition);
                await _index.RemoveAsync(id, partition);
            }
            else
            {
                var deadline = T0.AddMicroseconds(random.Next(1000) * 1000L); // microsecond precision: comparable exactly
                var user = $"user_{random.Next(5)}";
                await memory.UpsertAsync(id, user, deadline, partition);
                await _index.UpsertAsync(id, user, deadline, partition);
            }
        }
        for (var partition = 0; partition < 4; partition++)
        {
            foreach (var (now, limit) in new[] { (T0.AddMilliseconds(300), 1000), (T0.AddSeconds(2), 1000), (T0.AddSeconds(2), 5) })
            {
                var expected = await memory.ReadDueAsync(partition, now, limit);
                var actual = await _index.ReadDueAsync(partition, now, limit);
                Assert.Equal(expected, actual);
            }
        }
    }

    [Fact]
    public async Task Cancelled_calls_throw_and_write_nothing()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _index.UpsertAsync("sess_cancel", "u", T0, 0, cancelled.Token).AsTask());
        Assert.Empty(await _index.ReadDueAsync(0, T0.AddDays(1), 10));
    }
}
