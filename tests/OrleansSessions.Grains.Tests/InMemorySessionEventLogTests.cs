using OrleansSessions.Grains.Storage;

namespace OrleansSessions.Grains.Tests;

/// <summary>The event log contract on the in-memory default, and its bound per partition.</summary>
public sealed class InMemorySessionEventLogTests : SessionEventLogContract
{
    protected override ISessionEventLog CreateLog() => new InMemorySessionEventLog();

    protected override int ConcurrentAppends => 20_000;

    [Fact]
    public async Task Past_its_bound_a_partition_trims_its_oldest_events_as_retention_would()
    {
        var log = new InMemorySessionEventLog(maxEventsPerPartition: 3);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(i + 1, await log.AppendAsync(0, 1, Event($"sess_{i}", T0.AddSeconds(i))));
        }
        Assert.Equal(new SessionEventLogBounds(2, 5), await log.BoundsAsync(0));
        Assert.Equal([3L, 4L, 5L], (await log.ReadAsync(0, 0, 10)).Select(e => e.Position));
        Assert.Equal(new SessionEventLogBounds(0, 0), await log.BoundsAsync(1));
    }
}
