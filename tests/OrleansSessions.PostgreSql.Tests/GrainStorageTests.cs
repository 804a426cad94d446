using System.Diagnostics;
using System.Text;
using Npgsql;
using OrleansSessions.Storage;
using Xunit.Abstractions;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class GrainStorageTests(PostgreSqlFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int InterfaceId = 0x5E55_1011;
    private readonly PostgreSqlDatabase _database = fixture.NewDatabase("storage");
    private readonly string _stateName = PostgreSqlFixture.UniqueName("state");
    private PostgreSqlGrainStorage _storage = null!;

    public Task InitializeAsync()
    {
        _storage = new PostgreSqlGrainStorage(_database);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private static GrainId Grain(string key) => new(InterfaceId, key);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public async Task Read_of_a_missing_record_returns_no_data_and_no_etag()
    {
        var record = await _storage.ReadAsync(_stateName, Grain("missing"), default);
        Assert.Null(record.Data);
        Assert.Null(record.ETag);
    }

    [Fact]
    public async Task Write_then_read_round_trips_data_and_etag()
    {
        var etag = await _storage.WriteAsync(_stateName, Grain("a"), Bytes("one"), null, default);
        var record = await _storage.ReadAsync(_stateName, Grain("a"), default);
        Assert.Equal("one", Encoding.UTF8.GetString(record.Data!));
        Assert.Equal(etag, record.ETag);
        Assert.True(long.TryParse(etag, out _), "ETag is the decimal string of a bigint version");
    }

    [Fact]
    public async Task Write_with_current_etag_replaces_data_and_issues_a_new_etag()
    {
        var first = await _storage.WriteAsync(_stateName, Grain("b"), Bytes("one"), null, default);
        var second = await _storage.WriteAsync(_stateName, Grain("b"), Bytes("two"), first, default);
        Assert.NotEqual(first, second);
        var record = await _storage.ReadAsync(_stateName, Grain("b"), default);
        Assert.Equal("two", Encoding.UTF8.GetString(record.Data!));
        Assert.Equal(second, record.ETag);
    }

    [Fact]
    public async Task Stale_write_throws_InconsistentStateException_naming_both_etags()
    {
        var first = await _storage.WriteAsync(_stateName, Grain("c"), Bytes("one"), null, default);
        var second = await _storage.WriteAsync(_stateName, Grain("c"), Bytes("two"), first, default);

        var ex = await Assert.ThrowsAsync<InconsistentStateException>(
            () => _storage.WriteAsync(_stateName, Grain("c"), Bytes("stale"), first, default));
        Assert.Equal(second, ex.StoredEtag);
        Assert.Equal(first, ex.CurrentEtag);
        Assert.Equal("two", Encoding.UTF8.GetString((await _storage.ReadAsync(_stateName, Grain("c"), default)).Data!));
    }

    [Fact]
    public async Task Insert_with_null_etag_over_an_existing_record_throws()
    {
        var existing = await _storage.WriteAsync(_stateName, Grain("d"), Bytes("one"), null, default);
        var ex = await Assert.ThrowsAsync<InconsistentStateException>(
            () => _storage.WriteAsync(_stateName, Grain("d"), Bytes("two"), null, default));
        Assert.Equal(existing, ex.StoredEtag);
        Assert.Null(ex.CurrentEtag);
    }

    [Fact]
    public async Task Update_of_a_missing_record_throws()
    {
        var ex = await Assert.ThrowsAsync<InconsistentStateException>(
            () => _storage.WriteAsync(_stateName, Grain("never-written"), Bytes("x"), "12345", default));
        Assert.Null(ex.StoredEtag);
    }

    [Fact]
    public async Task Write_with_a_foreign_etag_throws_instead_of_failing_to_parse()
    {
        await _storage.WriteAsync(_stateName, Grain("foreign"), Bytes("x"), null, default);
        await Assert.ThrowsAsync<InconsistentStateException>(
            () => _storage.WriteAsync(_stateName, Grain("foreign"), Bytes("y"), "not-a-number", default));
    }

    [Fact]
    public async Task Clear_with_current_etag_deletes_and_stale_clear_throws()
    {
        var first = await _storage.WriteAsync(_stateName, Grain("e"), Bytes("one"), null, default);
        var second = await _storage.WriteAsync(_stateName, Grain("e"), Bytes("two"), first, default);

        var ex = await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.ClearAsync(_stateName, Grain("e"), first, default));
        Assert.Equal(second, ex.StoredEtag);
        await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.ClearAsync(_stateName, Grain("e"), null, default));

        await _storage.ClearAsync(_stateName, Grain("e"), second, default);
        var record = await _storage.ReadAsync(_stateName, Grain("e"), default);
        Assert.Null(record.Data);
        Assert.Null(record.ETag);

        // Clearing nothing with "no record expected" succeeds.
        await _storage.ClearAsync(_stateName, Grain("e"), null, default);
    }

    [Fact]
    public async Task A_recreated_record_never_reuses_an_old_etag()
    {
        var first = await _storage.WriteAsync(_stateName, Grain("aba"), Bytes("one"), null, default);
        await _storage.ClearAsync(_stateName, Grain("aba"), first, default);
        var second = await _storage.WriteAsync(_stateName, Grain("aba"), Bytes("two"), null, default);
        Assert.NotEqual(first, second);
        await Assert.ThrowsAsync<InconsistentStateException>(
            () => _storage.WriteAsync(_stateName, Grain("aba"), Bytes("stale"), first, default));
    }

    [Fact]
    public async Task Records_are_isolated_by_state_name_and_interface()
    {
        await _storage.WriteAsync(_stateName, Grain("iso"), Bytes("mine"), null, default);
        Assert.Null((await _storage.ReadAsync(_stateName + "-other", Grain("iso"), default)).Data);
        Assert.Null((await _storage.ReadAsync(_stateName, new GrainId(InterfaceId + 1, "iso"), default)).Data);
    }

    [Fact]
    public async Task Concurrent_writers_with_the_same_etag_exactly_one_wins()
    {
        var start = await _storage.WriteAsync(_stateName, Grain("race"), Bytes("start"), null, default);
        for (var round = 0; round < 10; round++)
        {
            var writers = Enumerable.Range(0, 16)
                .Select(i => Task.Run(() => _storage.WriteAsync(_stateName, Grain("race"), Bytes($"w{i}"), start, default)))
                .ToArray();
            var results = await Task.WhenAll(writers.Select(async t =>
            {
                try { return await t; }
                catch (InconsistentStateException) { return null; }
            }));
            var winners = results.Where(r => r is not null).ToArray();
            Assert.Single(winners);
            start = winners[0]!;
            Assert.Equal(start, (await _storage.ReadAsync(_stateName, Grain("race"), default)).ETag);
        }
    }

    [Fact]
    public async Task Concurrent_inserts_of_the_same_record_exactly_one_wins()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            try { return await _storage.WriteAsync(_stateName, Grain("first-insert"), Bytes($"w{i}"), null, default); }
            catch (InconsistentStateException) { return null; }
        })));
        Assert.Single(results, r => r is not null);
    }

    [Fact]
    public async Task Thousand_concurrent_writers_are_batched_and_all_durable()
    {
        const int writers = 1000;
        const int rounds = 5;
        var etags = new string?[writers];
        var stopwatch = Stopwatch.StartNew();
        for (var round = 0; round < rounds; round++)
        {
            var r = round;
            await Task.WhenAll(Enumerable.Range(0, writers).Select(i => Task.Run(async () =>
            {
                etags[i] = await _storage.WriteAsync(_stateName, Grain($"bulk-{i}"), Bytes($"{i}:{r}"), etags[i], default);
            })));
        }
        stopwatch.Stop();
        output.WriteLine($"{writers * rounds} writes from {writers} concurrent writers in {stopwatch.ElapsedMilliseconds} ms " +
                         $"({writers * rounds / stopwatch.Elapsed.TotalSeconds:F0} writes/s)");

        // Durable: a separate pool (fresh connections) sees every last write.
        await using var other = new PostgreSqlDatabase(_database.Options);
        var reader = new PostgreSqlGrainStorage(other);
        for (var i = 0; i < writers; i++)
        {
            var record = await reader.ReadAsync(_stateName, Grain($"bulk-{i}"), default);
            Assert.Equal($"{i}:{rounds - 1}", Encoding.UTF8.GetString(record.Data!));
            Assert.Equal(etags[i], record.ETag);
        }

        await using var count = other.DataSource.CreateCommand("SELECT count(*) FROM grain_state WHERE state_name = $1 AND grain_key LIKE 'bulk-%'");
        count.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _stateName });
        Assert.Equal((long)writers, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Writes_are_group_committed_into_fewer_round_trips_than_callers()
    {
        // Each row's xmin is the id of the transaction that wrote it: fewer distinct xmins than writes means
        // several callers' writes shared one statement.
        const int writers = 500;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(i =>
            _storage.WriteAsync(_stateName, Grain($"group-{i}"), Bytes("x"), null, default)));
        await using var command = _database.DataSource.CreateCommand(
            "SELECT count(DISTINCT xmin::text) FROM grain_state WHERE state_name = $1 AND grain_key LIKE 'group-%'");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _stateName });
        var transactions = (long)(await command.ExecuteScalarAsync())!;
        output.WriteLine($"{writers} concurrent inserts committed in {transactions} transactions");
        Assert.True(transactions < writers / 2, $"expected group commit, saw {transactions} transactions for {writers} writes");
    }

    [Fact]
    public async Task Concurrent_reads_are_grouped_and_each_caller_gets_its_own_record()
    {
        const int records = 300;
        var etags = await Task.WhenAll(Enumerable.Range(0, records).Select(i =>
            _storage.WriteAsync(_stateName, Grain($"read-{i}"), Bytes($"value {i}"), null, default)));

        // Existing and missing keys interleaved, all in flight at once.
        var reads = Enumerable.Range(0, records * 2).Select(i =>
            _storage.ReadAsync(_stateName, Grain(i % 2 == 0 ? $"read-{i / 2}" : $"missing-{i / 2}"), default)).ToArray();
        var results = await Task.WhenAll(reads);
        for (var i = 0; i < records; i++)
        {
            var found = results[2 * i];
            Assert.Equal($"value {i}", Encoding.UTF8.GetString(found.Data!));
            Assert.Equal(etags[i], found.ETag);
            var missing = results[2 * i + 1];
            Assert.Null(missing.Data);
            Assert.Null(missing.ETag);
        }
    }
}
