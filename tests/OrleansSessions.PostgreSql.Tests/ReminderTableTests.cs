using OrleansSessions.Runtime.Reminders;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class ReminderTableTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private const int InterfaceId = 0x0A11_70E5;
    private readonly PostgreSqlDatabase _database = fixture.NewDatabase("reminders");
    private PostgreSqlReminderTable _table = null!;

    public async Task InitializeAsync()
    {
        _table = new PostgreSqlReminderTable(_database);
        await _table.InitializeAsync(default);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private static ReminderEntry Reminder(string key, string name = "janitor", int periodMinutes = 5) => new()
    {
        GrainId = new GrainId(InterfaceId, key),
        ReminderName = name,
        StartAt = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1230),
        Period = TimeSpan.FromMinutes(periodMinutes),
    };

    [Fact]
    public async Task Upsert_then_read_returns_the_reminder_with_its_etag()
    {
        var entry = Reminder("p0");
        var etag = await _table.UpsertRowAsync(entry, default);

        var read = await _table.ReadRowAsync(entry.GrainId, "janitor", default);
        Assert.NotNull(read);
        Assert.Equal(entry.GrainId, read.GrainId);
        Assert.Equal(entry.GrainId.PlacementHash, read.GrainId.PlacementHash);
        Assert.Equal(entry.StartAt, read.StartAt);
        Assert.Equal(entry.Period, read.Period);
        Assert.Equal(etag, read.ETag);
        Assert.Null(await _table.ReadRowAsync(entry.GrainId, "other", default));
    }

    [Fact]
    public async Task Upsert_of_an_existing_reminder_replaces_it_with_a_new_etag()
    {
        var first = await _table.UpsertRowAsync(Reminder("p1"), default);
        var second = await _table.UpsertRowAsync(Reminder("p1", periodMinutes: 9), default);
        Assert.NotEqual(first, second);
        var rows = await _table.ReadRowsAsync(new GrainId(InterfaceId, "p1"), default);
        var row = Assert.Single(rows);
        Assert.Equal(TimeSpan.FromMinutes(9), row.Period);
        Assert.Equal(second, row.ETag);
    }

    [Fact]
    public async Task Read_rows_returns_every_reminder_of_one_grain_only()
    {
        await _table.UpsertRowAsync(Reminder("p2", "a"), default);
        await _table.UpsertRowAsync(Reminder("p2", "b"), default);
        await _table.UpsertRowAsync(Reminder("p3", "a"), default);
        var rows = await _table.ReadRowsAsync(new GrainId(InterfaceId, "p2"), default);
        Assert.Equal(["a", "b"], rows.Select(r => r.ReminderName).Order().ToArray());
    }

    [Fact]
    public async Task Remove_needs_the_current_etag()
    {
        var entry = Reminder("p4");
        var first = await _table.UpsertRowAsync(entry, default);
        var second = await _table.UpsertRowAsync(entry, default);

        Assert.False(await _table.RemoveRowAsync(entry.GrainId, entry.ReminderName, first, default));
        Assert.False(await _table.RemoveRowAsync(entry.GrainId, entry.ReminderName, "garbage", default));
        Assert.NotNull(await _table.ReadRowAsync(entry.GrainId, entry.ReminderName, default));

        Assert.True(await _table.RemoveRowAsync(entry.GrainId, entry.ReminderName, second, default));
        Assert.Null(await _table.ReadRowAsync(entry.GrainId, entry.ReminderName, default));
        Assert.False(await _table.RemoveRowAsync(entry.GrainId, entry.ReminderName, second, default));
    }

    [Fact]
    public async Task Range_reads_follow_the_ring_including_wrap_around_and_the_full_ring()
    {
        var grains = Enumerable.Range(0, 300).Select(i => new GrainId(InterfaceId, $"ring-{i}")).ToArray();
        Assert.Contains(grains, g => g.PlacementHash > int.MaxValue); // exercises the unsigned range in bigint
        foreach (var grain in grains)
        {
            await _table.UpsertRowAsync(Reminder(grain.Key), default);
        }

        var hashes = grains.Select(g => g.PlacementHash).Order().ToArray();
        uint quarter = uint.MaxValue / 4;
        (uint Begin, uint End)[] ranges =
        [
            (quarter, 3 * quarter),                 // plain interval
            (3 * quarter, quarter),                 // wraps past uint.MaxValue
            (hashes[10], hashes[20]),               // begin excluded, end included exactly
            (hashes[^5], hashes[5]),                // wrap with exact boundaries
            (0, uint.MaxValue),                     // everything except hash 0
            (uint.MaxValue, 0),                     // wrap: (max, max] then [0, 0]
            (quarter, quarter),                     // begin == end: whole ring
            (0, 0),                                 // whole ring
        ];

        foreach (var (begin, end) in ranges)
        {
            var expected = grains.Where(g => InRange(g.PlacementHash, begin, end)).Select(g => g.Key).Order().ToArray();
            var actual = (await _table.ReadRangeAsync(begin, end, default)).Select(r => r.GrainId.Key).Order().ToArray();
            Assert.True(expected.SequenceEqual(actual), $"range ({begin}, {end}]: expected {expected.Length} reminders, read {actual.Length}");
        }

        Assert.Equal(grains.Length, (await _table.ReadRangeAsync(12345, 12345, default)).Count);
        Assert.Equal(10, (await _table.ReadRangeAsync(hashes[10], hashes[20], default)).Count);
    }

    [Fact]
    public async Task Clusters_do_not_see_each_others_reminders()
    {
        await _table.UpsertRowAsync(Reminder("iso"), default);
        await using var otherDatabase = fixture.NewDatabase("reminders-other");
        var other = new PostgreSqlReminderTable(otherDatabase);
        Assert.Empty(await other.ReadRangeAsync(0, 0, default));
        Assert.Empty(await other.ReadRowsAsync(new GrainId(InterfaceId, "iso"), default));
    }

    private static bool InRange(uint hash, uint beginExclusive, uint endInclusive)
        => beginExclusive < endInclusive
            ? hash > beginExclusive && hash <= endInclusive
            : hash > beginExclusive || hash <= endInclusive;
}
