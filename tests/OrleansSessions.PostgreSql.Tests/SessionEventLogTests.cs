using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Serialization;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.PostgreSql.Tests;

/// <summary>The event log contract on a real PostgreSQL, and what only this provider does (group commits, the tables, the service id column).</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class SessionEventLogTests(PostgreSqlFixture fixture) : SessionEventLogContract
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly Serializer<SessionEvent> Serializer =
        new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer<SessionEvent>>();

    // Every test gets its own ServiceId: rows of other tests (and other runs) are invisible to it.
    protected override ISessionEventLog CreateLog() => new PostgreSqlSessionEventLog(fixture.DataSource, PostgreSqlFixture.UniqueName("events"), Serializer);

    private PostgreSqlSessionEventLog Postgres => (PostgreSqlSessionEventLog)Log;

    [Fact]
    public async Task Without_a_server_every_call_fails_as_storage_unavailable()
    {
        await using var nowhere = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Port = 1, Timeout = 2 }.ConnectionString);
        await using var log = new PostgreSqlSessionEventLog(nowhere, PostgreSqlFixture.UniqueName("events"), Serializer);
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => log.AppendAsync(0, 1, Event("sess_x", T0)).AsTask());
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => log.ReadAsync(0, 0, 10).AsTask());
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => log.TrimAsync(0, T0).AsTask());
        var bounds = await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => log.BoundsAsync(0).AsTask());
        Assert.StartsWith("The session storage (PostgreSQL) is unavailable: Failed to connect to ", bounds.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_are_read_by_service_only()
    {
        await Log.AppendAsync(0, 1, Event("sess_a", T0));
        await using var other = new PostgreSqlSessionEventLog(fixture.DataSource, PostgreSqlFixture.UniqueName("events-other"), Serializer);
        Assert.Empty(await other.ReadAsync(0, 0, 10));
        Assert.Equal(new SessionEventLogBounds(0, 0), await other.BoundsAsync(0));
        // The same event in another service is another service's first event; a trim there leaves this one.
        Assert.Equal(1, await other.AppendAsync(0, 1, Event("sess_a", T0)));
        Assert.Equal(1, await other.TrimAsync(0, T0.AddDays(1)));
        Assert.Single(await Log.ReadAsync(0, 0, 10));
        Assert.Equal(2, await Log.AppendAsync(0, 1, Event("sess_b", T0)));
    }

    [Fact]
    public async Task Concurrent_appends_share_transactions_and_each_returns_after_its_commit()
    {
        const int Events = 60;
        var positions = await Task.WhenAll(Enumerable.Range(0, Events).Select(i => Log.AppendAsync(i % 3, 1, Event($"sess_group{i:D3}", T0)).AsTask()));
        Assert.InRange(Postgres.Transactions, 1, Events - 1);
        for (var p = 0; p < 3; p++)
        {
            Assert.Equal(Enumerable.Range(1, Events / 3).Select(x => (long)x), positions.Where((_, i) => i % 3 == p).Order());
            Assert.Equal(Events / 3, (await Log.ReadAsync(p, 0, 1000)).Count);
        }
    }

    [Fact]
    public async Task An_event_appended_by_two_silos_at_once_is_recorded_once_and_takes_one_position()
    {
        // Two logs are two silos: a repeat after a crash may run while the first append is still in the server. Both
        // groups wait on the partition's heads row, which the test holds, so both miss the event when they look for it;
        // the second to insert it fails on the unique key and runs again.
        await Log.AppendAsync(2, 1, Event("sess_first", T0));
        await using var otherSilo = new PostgreSqlSessionEventLog(fixture.DataSource, Postgres.ServiceId, Serializer);
        Task<long> first, second;
        await using (var connection = await fixture.DataSource.OpenConnectionAsync())
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var lockHead = new NpgsqlCommand(
                $"SELECT head FROM {PostgreSqlSchema.EventHeadsTable} WHERE service_id = $1 AND partition = 2 FOR UPDATE", connection, transaction))
            {
                lockHead.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Postgres.ServiceId });
                Assert.Equal(1L, await lockHead.ExecuteScalarAsync());
            }
            first = Log.AppendAsync(2, 7, Event("sess_twice", T0.AddSeconds(1))).AsTask();
            second = otherSilo.AppendAsync(2, 7, Event("sess_twice", T0.AddSeconds(1))).AsTask();
            await Wait.UntilAsync(
                // The second waits in the row's lock queue behind the first, which waits for the test.
                async () => await fixture.ScalarAsync<long>("""
                    SELECT count(*) FROM pg_stat_activity a
                     WHERE $1 = ANY(pg_blocking_pids(a.pid))
                        OR EXISTS (SELECT 1 FROM unnest(pg_blocking_pids(a.pid)) b(pid) WHERE $1 = ANY(pg_blocking_pids(b.pid)))
                    """, connection.ProcessID) == 2,
                Deadline,
                "both appends waiting on the test's lock of the heads row");
            await transaction.CommitAsync();
        }
        Assert.Equal(2, await first.WaitAsync(Deadline));
        Assert.Equal(2, await second.WaitAsync(Deadline));
        Assert.Equal(new SessionEventLogBounds(0, 2), await Log.BoundsAsync(2));
        Assert.Equal(3, await otherSilo.AppendAsync(2, 8, Event("sess_twice", T0.AddSeconds(2))));
        Assert.Equal([1L, 2L, 3L], (await Log.ReadAsync(2, 0, 10)).Select(e => e.Position));
    }

    [Fact]
    public async Task An_event_is_one_row_with_its_key_columns_and_a_partition_one_heads_row()
    {
        await Log.AppendAsync(4, 3, Event("sess_row", T0.AddTicks(17)));
        await Log.AppendAsync(4, 4, Event("sess_row", T0.AddSeconds(1)));
        Assert.Equal(2, await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM {PostgreSqlSchema.EventsTable} WHERE service_id = $1 AND partition = 4 AND session_id = 'sess_row'", Postgres.ServiceId));
        Assert.Equal(1, await fixture.ScalarAsync<long>(
            $"SELECT position FROM {PostgreSqlSchema.EventsTable} WHERE service_id = $1 AND sequence = 3 AND at = $2", Postgres.ServiceId, T0.UtcDateTime.AddTicks(10)));
        Assert.Equal(1, await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM {PostgreSqlSchema.EventHeadsTable} WHERE service_id = $1 AND head = 2 AND trimmed_through = 0", Postgres.ServiceId));
        // The payload keeps the event's own time to the tick; the column, microseconds.
        Assert.Equal(T0.AddTicks(17), (await Log.ReadAsync(4, 0, 1)).Single().Event.At);
    }
}
