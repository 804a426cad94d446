using System.Net.Sockets;
using Npgsql;
using Orleans.Storage;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.PostgreSql.Tests;

/// <summary>The deadline index contract on a real PostgreSQL, and what only this provider does (group commits, the service id column).</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class SessionDeadlineIndexTests(PostgreSqlFixture fixture) : SessionDeadlineIndexContract
{
    // Every test gets its own ServiceId: rows of other tests (and other runs) are invisible to it.
    protected override ISessionDeadlineIndex CreateIndex() => new PostgreSqlSessionDeadlineIndex(fixture.DataSource, PostgreSqlFixture.UniqueName("deadlines"));

    private PostgreSqlSessionDeadlineIndex Postgres => (PostgreSqlSessionDeadlineIndex)Index;

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
    public async Task Rows_are_read_by_service_only()
    {
        await Index.UpsertAsync("sess_p0", "u", T0, 0);
        var other = new PostgreSqlSessionDeadlineIndex(fixture.DataSource, PostgreSqlFixture.UniqueName("deadlines-other"));
        Assert.Empty(await other.ReadDueAsync(0, T0, 10));
        await other.RemoveAsync("sess_p0", 0); // another service's remove leaves this service's row
        Assert.Single(await Index.ReadDueAsync(0, T0, 10));
    }

    [Fact]
    public async Task Concurrent_upserts_and_removes_share_transactions_and_each_returns_after_its_commit()
    {
        const int Sessions = 60;
        var ids = Enumerable.Range(0, Sessions).Select(i => $"sess_group{i:D3}").ToArray();
        await Task.WhenAll(ids.Select(id => Index.UpsertAsync(id, "u", T0, 2).AsTask()));
        var afterUpserts = Postgres.Transactions;
        Assert.InRange(afterUpserts, 1, Sessions - 1);
        Assert.Equal(ids, (await Index.ReadDueAsync(2, T0, 1000)).Select(e => e.SessionId).ToArray());

        await Task.WhenAll(ids.Take(Sessions / 2).Select(id => Index.RemoveAsync(id, 2).AsTask())
            .Concat(ids.Skip(Sessions / 2).Select(id => Index.UpsertAsync(id, "u", T0.AddMinutes(1), 2).AsTask())));
        Assert.InRange(Postgres.Transactions - afterUpserts, 1, Sessions - 1);
        Assert.Empty(await Index.ReadDueAsync(2, T0, 1000));
        Assert.Equal(ids.Skip(Sessions / 2), (await Index.ReadDueAsync(2, T0.AddMinutes(1), 1000)).Select(e => e.SessionId));
    }

    [Fact]
    public async Task A_row_is_one_row_of_the_deadlines_table_under_the_service_id()
    {
        await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Index.UpsertAsync($"sess_rows_{i:D3}", "u", T0, 4).AsTask()));
        Assert.Equal(100, await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM {PostgreSqlSchema.DeadlinesTable} WHERE service_id = $1", Postgres.ServiceId));
    }
}
