using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.PostgreSql.Tests;

/// <summary>
/// <see cref="PostgreSqlGrainStorage"/> on the test database, each test under its own ServiceId (the read, write and
/// clear round trip through a silo's registered storage is in <see cref="ClusterTests"/>). To put operations in
/// one group for certain, a test holds a row lock that the writer's current group waits on, queues the operations
/// (they cannot start while that group is in flight), then releases the lock.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class GrainStorageGroupCommitTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private const string StateName = "pgtest-state";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string _serviceId = PostgreSqlFixture.UniqueName("groupcommit");
    private readonly ServiceProvider _serialization = new ServiceCollection().AddSerializer().BuildServiceProvider();
    private PostgreSqlGrainStorage _storage = null!;

    public Task InitializeAsync()
    {
        _storage = NewStorage(fixture.DataSource);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _storage.DisposeAsync();
        await _serialization.DisposeAsync();
    }

    [Fact]
    public async Task In_one_group_only_the_stale_writers_get_an_inconsistent_state_exception()
    {
        var (current, stale, blind, clearStale, fresh) = (NewGrainId(), NewGrainId(), NewGrainId(), NewGrainId(), NewGrainId());
        var currentState = await StoredAsync(current, "a");
        var staleState = await StoredAsync(stale, "b");
        var staleCopy = State("stale", staleState.ETag);
        await _storage.WriteStateAsync(StateName, stale, staleState); // the copy's ETag is now old
        await StoredAsync(blind, "c");
        var clearState = await StoredAsync(clearStale, "d");
        var clearCopy = State("stale", clearState.ETag);
        await _storage.WriteStateAsync(StateName, clearStale, clearState);

        var freshState = State("new");
        currentState.State!["v"] = "a2";
        var blindState = State("blind"); // never read: a null ETag while a row exists
        var transactions = await InOneGroupAsync(
            () => _storage.WriteStateAsync(StateName, current, currentState),
            () => _storage.WriteStateAsync(StateName, stale, staleCopy),
            () => _storage.WriteStateAsync(StateName, blind, blindState),
            () => _storage.ClearStateAsync(StateName, clearStale, clearCopy),
            () => _storage.WriteStateAsync(StateName, fresh, freshState));

        Assert.Equal(1, transactions.Group);
        Assert.Null(transactions.Results[0]);
        Assert.IsType<InconsistentStateException>(transactions.Results[1]);
        Assert.IsType<InconsistentStateException>(transactions.Results[2]);
        Assert.IsType<InconsistentStateException>(transactions.Results[3]);
        Assert.Null(transactions.Results[4]);
        Assert.Equal("2", currentState.ETag);
        Assert.Equal("1", freshState.ETag);
        Assert.Equal("a2", (await ReadAsync(current)).State!["v"]);
        Assert.Equal("b", (await ReadAsync(stale)).State!["v"]);
        Assert.Equal("c", (await ReadAsync(blind)).State!["v"]);
        Assert.True((await ReadAsync(clearStale)).RecordExists);
        Assert.Equal("new", (await ReadAsync(fresh)).State!["v"]);
    }

    [Fact]
    public async Task Fifty_concurrent_writes_commit_in_fewer_than_fifty_transactions()
    {
        const int Writes = 50;
        var grainIds = Enumerable.Range(0, Writes).Select(_ => NewGrainId()).ToArray();
        var states = grainIds.Select(_ => State("x")).ToArray();
        var writes = grainIds.Select((id, i) => (Func<Task>)(() => _storage.WriteStateAsync(StateName, id, states[i]))).ToArray();

        var outcome = await InOneGroupAsync(writes);

        Assert.All(outcome.Results, Assert.Null);
        Assert.Equal(1, outcome.Group);
        Assert.True(outcome.Group < Writes);
        Assert.Equal(Writes, await RowsAsync());
    }

    [Fact]
    public async Task Operations_on_one_row_queued_together_run_in_their_order()
    {
        var grainId = NewGrainId();
        var first = await StoredAsync(grainId, "1");
        var second = State("3", "2");
        first.State!["v"] = "2";
        var outcome = await InOneGroupAsync(
            () => _storage.WriteStateAsync(StateName, grainId, first),
            () => _storage.WriteStateAsync(StateName, grainId, second));

        Assert.All(outcome.Results, Assert.Null);
        Assert.Equal("2", first.ETag);
        Assert.Equal("3", second.ETag);
        Assert.Equal("3", (await ReadAsync(grainId)).State!["v"]);
    }

    [Fact]
    public async Task With_several_groups_in_flight_a_busy_row_waits_in_order_while_other_rows_commit()
    {
        await using var storage = NewStorage(fixture.DataSource, groupsInFlight: 4);
        var (busy, other) = (NewGrainId(), NewGrainId());
        var first = State("1");
        await storage.WriteStateAsync(StateName, busy, first);
        await using var connection = await fixture.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await LockAsync(connection, transaction, busy);
        first.State!["v"] = "2";
        var blocked = storage.WriteStateAsync(StateName, busy, first);
        await WaitUntilBlockedAsync(connection.ProcessID);

        var second = State("3", "2");
        var third = State("4", "3");
        var behind = new[] { storage.WriteStateAsync(StateName, busy, second), storage.WriteStateAsync(StateName, busy, third) };
        var elsewhere = State("other");
        await storage.WriteStateAsync(StateName, other, elsewhere).WaitAsync(Deadline); // another group, while the first waits
        Assert.Equal("1", elsewhere.ETag);
        Assert.Equal(2, storage.GroupCommit.Queued);
        Assert.False(blocked.IsCompleted || behind.Any(t => t.IsCompleted));

        await transaction.RollbackAsync();
        await blocked.WaitAsync(Deadline);
        await Task.WhenAll(behind).WaitAsync(Deadline);
        Assert.Equal(("2", "3", "4"), (first.ETag, second.ETag, third.ETag));
        var stored = new GrainState<Dictionary<string, string>>();
        await storage.ReadStateAsync(StateName, busy, stored);
        Assert.Equal("4", stored.State!["v"]);
    }

    [Fact]
    public async Task A_failed_transaction_fails_every_write_of_its_group_and_stores_none()
    {
        var grainIds = Enumerable.Range(0, 5).Select(_ => NewGrainId()).ToArray();
        var writes = grainIds
            .Select(id => (Func<Task>)(() => _storage.WriteStateAsync(StateName, id, State("x"))))
            // A state name longer than the column (varchar(512)): the server rejects the statement, and the group with it.
            .Append(() => _storage.WriteStateAsync(new string('s', 600), NewGrainId(), State("too long")))
            .ToArray();

        var outcome = await InOneGroupAsync(writes);

        Assert.Equal(1, outcome.Group);
        // Reported as the storage's failure, with the server's message.
        var failures = outcome.Results.Select(r => Assert.IsType<SessionStorageUnavailableException>(r)).ToArray();
        Assert.All(failures, f => Assert.Contains(PostgresErrorCodes.StringDataRightTruncation, f.Message, StringComparison.Ordinal));
        Assert.Equal(0L, await RowsAsync());

        // The writer goes on with the next group.
        var after = State("after");
        await _storage.WriteStateAsync(StateName, grainIds[0], after);
        Assert.Equal("1", after.ETag);
    }

    [Fact]
    public async Task Without_a_server_every_operation_fails_as_storage_unavailable_naming_the_cause()
    {
        // A port nothing listens on (the silo's pool would report the same for a stopped server).
        await using var nowhere = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Port = 1, Timeout = 2 }.ConnectionString);
        await using var storage = NewStorage(nowhere);
        var grainId = NewGrainId();
        var calls = new[]
        {
            storage.WriteStateAsync(StateName, grainId, State("x")),
            storage.ReadStateAsync(StateName, grainId, new GrainState<Dictionary<string, string>>()),
            storage.ClearStateAsync(StateName, grainId, State("x", "1")),
        };
        foreach (var call in calls)
        {
            var unavailable = await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => call);
            Assert.StartsWith("The session storage (PostgreSQL) is unavailable: Failed to connect to ", unavailable.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', unavailable.Message);
            Assert.Equal("storage_unavailable", SessionFailure.Classify(unavailable).Code);
        }
    }

    // One group in flight: what the writer holds back behind the blocked group is certain to form the next group.
    private PostgreSqlGrainStorage NewStorage(NpgsqlDataSource dataSource, int groupsInFlight = 1)
        => new("OrleansSessions", dataSource, _serviceId, new PostgreSqlGrainStorageOptions
        {
            GrainStorageSerializer = new OrleansGrainStorageSerializer(_serialization.GetRequiredService<Serializer>()),
            MaxGroupsInFlight = groupsInFlight,
        });

    private sealed record Outcome(Exception?[] Results, long Group);

    /// <summary>
    /// Holds a row lock that a first write waits on (a group in flight), queues <paramref name="operations"/> behind
    /// it, releases the lock, and returns each operation's exception (or null) and the transactions the operations
    /// took after the blocking one.
    /// </summary>
    private async Task<Outcome> InOneGroupAsync(params Func<Task>[] operations)
    {
        var blocker = GrainId.Create("pgtest", "blocker-" + Guid.NewGuid().ToString("N"));
        var blockerState = await StoredAsync(blocker, "blocker");
        Task blocked;
        Task[] queued;
        long before;
        await using (var connection = await fixture.DataSource.OpenConnectionAsync())
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await LockAsync(connection, transaction, blocker);
            blocked = _storage.WriteStateAsync(StateName, blocker, blockerState);
            await WaitUntilBlockedAsync(connection.ProcessID);
            before = _storage.GroupCommit.Transactions;
            queued = operations.Select(o => o()).ToArray();
            await WaitAsync(() => _storage.GroupCommit.Queued == operations.Length, "every operation queued behind the blocked group");
            Assert.False(blocked.IsCompleted);
            await transaction.RollbackAsync();
        }
        await blocked.WaitAsync(Deadline);
        var results = new Exception?[queued.Length];
        for (var i = 0; i < queued.Length; i++)
        {
            try
            {
                await queued[i].WaitAsync(Deadline);
            }
            catch (Exception exception) when (exception is not TimeoutException)
            {
                results[i] = exception;
            }
        }
        // Operations on one row wait for the group after; count only what these operations took.
        return new Outcome(results, _storage.GroupCommit.Transactions - before);
    }

    private async Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, GrainId grainId)
    {
        await using var lockRow = new NpgsqlCommand(
            $"SELECT 1 FROM {PostgreSqlSchema.StateTable} WHERE service_id = $1 AND state_name = $2 AND grain_id = $3 FOR UPDATE", connection, transaction);
        lockRow.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _serviceId });
        lockRow.Parameters.Add(new NpgsqlParameter<string> { TypedValue = StateName });
        lockRow.Parameters.Add(new NpgsqlParameter<string> { TypedValue = grainId.ToString() });
        Assert.Equal(1, await lockRow.ExecuteScalarAsync());
    }

    /// <summary>Waits until a backend waits on a lock that the backend <paramref name="holder"/> holds (the writer's group).</summary>
    private Task WaitUntilBlockedAsync(int holder)
        => Wait.UntilAsync(
            async () => await fixture.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder) > 0,
            Deadline,
            "the writer's group waiting on the test's row lock");

    private static Task WaitAsync(Func<bool> condition, string what)
        => Wait.UntilAsync(condition, Deadline, what);

    private async Task<GrainState<Dictionary<string, string>>> StoredAsync(GrainId grainId, string value)
    {
        var state = State(value);
        await _storage.WriteStateAsync(StateName, grainId, state);
        return state;
    }

    private async Task<GrainState<Dictionary<string, string>>> ReadAsync(GrainId grainId)
    {
        var state = new GrainState<Dictionary<string, string>>();
        await _storage.ReadStateAsync(StateName, grainId, state);
        return state;
    }

    private Task<long> RowsAsync() => fixture.ScalarAsync<long>(
        $"SELECT count(*) FROM {PostgreSqlSchema.StateTable} WHERE service_id = $1 AND state_name = $2 AND grain_id NOT LIKE 'pgtest/blocker-%'",
        _serviceId, StateName);

    private static GrainState<Dictionary<string, string>> State(string value, string? etag = null)
        => new(new Dictionary<string, string> { ["v"] = value }) { ETag = etag };

    private static GrainId NewGrainId() => GrainId.Create("pgtest", Guid.NewGuid().ToString("N"));
}
