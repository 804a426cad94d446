using System.Diagnostics;
using Xunit.Abstractions;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class ThroughputTests(PostgreSqlFixture fixture, ITestOutputHelper output)
{
    // A measurement for the test log, not a timed assertion (targets are measured by benchmarks in bench/).
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Sustained_group_committed_updates_from_1024_writers_are_reported(int concurrentFlushes)
    {
        const int writers = 1024;
        await using var database = fixture.NewDatabase("throughput", concurrentFlushes);
        var storage = new PostgreSqlGrainStorage(database);
        var stateName = PostgreSqlFixture.UniqueName("tp");
        var payload = new byte[200];
        long total = 0;
        var duration = TimeSpan.FromSeconds(2);
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(i => Task.Run(async () =>
        {
            string? etag = null;
            var grain = new GrainId(7, $"tp-{i}");
            while (stopwatch.Elapsed < duration)
            {
                etag = await storage.WriteAsync(stateName, grain, payload, etag, default);
                Interlocked.Increment(ref total);
            }
        })));
        output.WriteLine($"{writers} writers, {concurrentFlushes} flushes in flight, 200-byte states: {total / stopwatch.Elapsed.TotalSeconds:F0} writes/s");
        Assert.True(total > writers, "every writer completed at least one write");
    }
}
