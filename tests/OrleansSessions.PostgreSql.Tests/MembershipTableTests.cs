using OrleansSessions.Runtime.Membership;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class MembershipTableTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private readonly PostgreSqlDatabase _database = fixture.NewDatabase("membership");
    private PostgreSqlMembershipTable _table = null!;

    public async Task InitializeAsync()
    {
        _table = new PostgreSqlMembershipTable(_database);
        await _table.InitializeAsync(default);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    // timestamptz keeps microseconds; build times that survive the round trip exactly.
    private static DateTimeOffset Micros(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % 10, TimeSpan.Zero);

    private static MembershipEntry Entry(int port, SiloStatus status = SiloStatus.Active, DateTimeOffset? alive = null) => new()
    {
        Silo = new SiloAddress("10.0.0.1", port, 638_000_000_000_000_000L + port),
        Status = status,
        GatewayPort = port + 1000,
        HttpPort = port + 2000,
        StartTime = Micros(DateTimeOffset.UtcNow.AddMinutes(-1)),
        IAmAliveTime = Micros(alive ?? DateTimeOffset.UtcNow),
        SuspectedBy = [],
    };

    [Fact]
    public async Task A_new_cluster_reads_empty_at_version_zero_and_initialize_is_idempotent()
    {
        await _table.InitializeAsync(default);
        var snapshot = await _table.ReadAllAsync(default);
        Assert.Empty(snapshot.Entries);
        Assert.Equal(0, snapshot.Version);
    }

    [Fact]
    public async Task Upsert_at_the_current_version_writes_the_row_and_bumps_the_version()
    {
        var entry = Entry(11111) with { SuspectedBy = ["10.0.0.2:11111@5 2025-01-01T00:00:00Z"], Status = SiloStatus.Joining };
        Assert.True(await _table.TryUpsertAsync(entry, 0, default));

        var snapshot = await _table.ReadAllAsync(default);
        Assert.Equal(1, snapshot.Version);
        var read = Assert.Single(snapshot.Entries);
        Assert.Equal(entry.Silo, read.Silo);
        Assert.Equal(entry.Status, read.Status);
        Assert.Equal(entry.GatewayPort, read.GatewayPort);
        Assert.Equal(entry.HttpPort, read.HttpPort);
        Assert.Equal(entry.StartTime, read.StartTime);
        Assert.Equal(entry.IAmAliveTime, read.IAmAliveTime);
        Assert.Equal(entry.SuspectedBy, read.SuspectedBy);

        // Replacing the same silo's row: still one row, next version.
        Assert.True(await _table.TryUpsertAsync(entry with { Status = SiloStatus.Active, SuspectedBy = [] }, 1, default));
        snapshot = await _table.ReadAllAsync(default);
        Assert.Equal(2, snapshot.Version);
        Assert.Equal(SiloStatus.Active, Assert.Single(snapshot.Entries).Status);
    }

    [Fact]
    public async Task Upsert_at_a_stale_version_returns_false_and_changes_nothing()
    {
        Assert.True(await _table.TryUpsertAsync(Entry(1), 0, default));
        Assert.False(await _table.TryUpsertAsync(Entry(2), 0, default));
        Assert.False(await _table.TryUpsertAsync(Entry(2), 5, default));
        var snapshot = await _table.ReadAllAsync(default);
        Assert.Equal(1, snapshot.Version);
        Assert.Single(snapshot.Entries);
    }

    [Fact]
    public async Task Two_writers_with_the_same_expected_version_exactly_one_wins()
    {
        for (var round = 0; round < 20; round++)
        {
            var version = (await _table.ReadAllAsync(default)).Version;
            var a = Task.Run(() => _table.TryUpsertAsync(Entry(20000 + round), version, default));
            var b = Task.Run(() => _table.TryUpsertAsync(Entry(30000 + round), version, default));
            var results = await Task.WhenAll(a, b);
            Assert.Equal(1, results.Count(won => won));
            var after = await _table.ReadAllAsync(default);
            Assert.Equal(version + 1, after.Version);
            Assert.Equal(round + 1, after.Entries.Count);
        }
    }

    [Fact]
    public async Task Many_racing_writers_never_lose_an_update()
    {
        // Each writer retries read-then-CAS until it wins; every silo ends up in the table exactly once.
        const int writers = 8;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(i => Task.Run(async () =>
        {
            while (true)
            {
                var snapshot = await _table.ReadAllAsync(default);
                if (await _table.TryUpsertAsync(Entry(40000 + i), snapshot.Version, default))
                {
                    return;
                }
            }
        })));
        var final = await _table.ReadAllAsync(default);
        Assert.Equal(writers, final.Entries.Count);
        Assert.Equal(writers, final.Version);
    }

    [Fact]
    public async Task A_cluster_that_was_never_initialized_starts_at_version_zero_and_accepts_the_first_upsert_once()
    {
        await using var database = fixture.NewDatabase("membership-uninitialized");
        var table = new PostgreSqlMembershipTable(database);
        var snapshot = await table.ReadAllAsync(default);
        Assert.Equal(0, snapshot.Version);

        var results = await Task.WhenAll(
            Task.Run(() => table.TryUpsertAsync(Entry(1), 0, default)),
            Task.Run(() => table.TryUpsertAsync(Entry(2), 0, default)));
        Assert.Equal(1, results.Count(won => won));
        snapshot = await table.ReadAllAsync(default);
        Assert.Equal(1, snapshot.Version);
        Assert.Single(snapshot.Entries);
    }

    [Fact]
    public async Task Heartbeat_updates_iamalive_without_changing_the_version()
    {
        var entry = Entry(5000);
        Assert.True(await _table.TryUpsertAsync(entry, 0, default));
        var later = Micros(entry.IAmAliveTime.AddSeconds(7));
        await _table.UpdateIAmAliveAsync(entry.Silo, later, default);

        var snapshot = await _table.ReadAllAsync(default);
        Assert.Equal(1, snapshot.Version);
        Assert.Equal(later, Assert.Single(snapshot.Entries).IAmAliveTime);
    }

    [Fact]
    public async Task Heartbeat_accepts_times_with_a_non_utc_offset()
    {
        var entry = Entry(5001);
        Assert.True(await _table.TryUpsertAsync(entry, 0, default));
        var local = Micros(DateTimeOffset.UtcNow).ToOffset(TimeSpan.FromHours(5));
        await _table.UpdateIAmAliveAsync(entry.Silo, local, default);
        Assert.Equal(local, Assert.Single((await _table.ReadAllAsync(default)).Entries).IAmAliveTime);
    }

    [Fact]
    public async Task Cleanup_removes_only_dead_silos_older_than_the_cutoff()
    {
        var now = DateTimeOffset.UtcNow;
        var deadOld = Entry(1, SiloStatus.Dead, now.AddHours(-2));
        var deadRecent = Entry(2, SiloStatus.Dead, now.AddMinutes(-1));
        var activeOld = Entry(3, SiloStatus.Active, now.AddHours(-2));
        Assert.True(await _table.TryUpsertAsync(deadOld, 0, default));
        Assert.True(await _table.TryUpsertAsync(deadRecent, 1, default));
        Assert.True(await _table.TryUpsertAsync(activeOld, 2, default));

        await _table.CleanupDefunctEntriesAsync(now.AddHours(-1), default);

        var remaining = (await _table.ReadAllAsync(default)).Entries.Select(e => e.Silo).ToHashSet();
        Assert.DoesNotContain(deadOld.Silo, remaining);
        Assert.Contains(deadRecent.Silo, remaining);
        Assert.Contains(activeOld.Silo, remaining);
    }

    [Fact]
    public async Task Clusters_do_not_see_each_others_rows()
    {
        Assert.True(await _table.TryUpsertAsync(Entry(7), 0, default));
        await using var otherDatabase = fixture.NewDatabase("membership-other");
        var other = new PostgreSqlMembershipTable(otherDatabase);
        await other.InitializeAsync(default);
        var snapshot = await other.ReadAllAsync(default);
        Assert.Empty(snapshot.Entries);
        Assert.Equal(0, snapshot.Version);
    }
}
