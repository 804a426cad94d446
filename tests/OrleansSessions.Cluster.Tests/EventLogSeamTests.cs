using System.Diagnostics;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>
/// GET /api/events?after= an old cursor while sessions are created and closed without pause: the connection replays a
/// backlog of several pages from the log while new events keep arriving, then joins the silo's live feed. Whatever the
/// log holds after the cursor is received once (no gap, no duplicate at the seam), and every message's id is a cursor
/// to resume from that repeats and skips nothing.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class EventLogSeamTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Replay_of_a_backlog_then_live_under_concurrent_ends_has_no_gap_and_no_duplicate()
    {
        var clock = Stopwatch.StartNew();
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        await using var cluster = await ProcessCluster.StartAsync("evseam", 1, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:10:00",
        });
        var client = cluster.Client;
        var start = await EventLogTruth.HeadAsync(client);
        var churn = new SessionChurn(client, cluster.ClusterId, 200, seed);
        churn.Start(4, TimeSpan.Zero, 0.9);
        var consumers = new List<ResumingEventConsumer>();
        try
        {
            // A backlog of more than a page of the log (SessionEventHub.PageSize is 1,000) after the cursor.
            await Wait.UntilAsync(() => Task.FromResult(churn.Created + churn.Closed >= 1_500), TimeSpan.FromSeconds(60), () => $"a backlog of 1,500 events ({churn.Summary()})");
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: backlog: {churn.Summary()}");
            // One consumer reads straight through; the other is cut off at random and resumes (a seam each time).
            consumers.Add(new ResumingEventConsumer(() => cluster.Running.ToList(), start, seed, disconnect: false));
            consumers.Add(new ResumingEventConsumer(() => cluster.Running.ToList(), start, seed + 1, disconnect: true));
            foreach (var consumer in consumers)
            {
                consumer.Run();
            }
            var atStart = churn.Created + churn.Closed;
            // Writes go on until each consumer has received what the backlog was and 1,000 more events.
            await Wait.UntilAsync(() => Task.FromResult(consumers.All(c => c.Count >= atStart + 1_000 || c.Fatal is not null)), TimeSpan.FromSeconds(60),
                () => $"each consumer past the backlog and live ({churn.Summary()}; {string.Join("; ", consumers.Select(c => c.Describe(3)))})");
        }
        finally
        {
            await churn.StopAsync();
        }
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: writers stopped: {churn.Summary()}");
        Assert.True(churn.Unexpected.IsEmpty, "failures not classified as transient:\n" + string.Join('\n', churn.Unexpected.Take(10)));

        var head = EventLogTruth.Positions(await EventLogTruth.HeadAsync(client));
        await Wait.UntilAsync(() => Task.FromResult(consumers.All(c => c.Covers(head) || c.Fatal is not null)), TimeSpan.FromSeconds(30),
            () => $"the consumers read through the head {string.Join('.', head)} ({string.Join("; ", consumers.Select(c => c.Describe(3)))})");
        foreach (var consumer in consumers)
        {
            await consumer.StopAsync();
        }
        var through = Enumerable.Range(0, head.Length).Select(p => consumers.Max(c => EventLogTruth.Positions(c.Cursor)[p])).ToArray();
        var truth = await EventLogTruth.ReadAsync(client, start, through, TimeSpan.FromSeconds(30));
        foreach (var (consumer, name) in consumers.Zip(["straight", "resuming"]))
        {
            Assert.True(consumer.Fatal is null, $"{name}: {consumer.Fatal}\n{consumer.Describe()}");
            var problems = EventLogTruth.Verify(start, consumer.Received, truth);
            output.WriteLine($"{name} consumer: {consumer.Describe(0)}; {problems.Count} problems");
            Assert.True(problems.Count == 0, $"{name} consumer: {problems.Count} problems ({consumer.Count} events received, the log {truth.Count}):\n{string.Join('\n', problems)}\n{consumer.Describe(40)}");
        }
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: done; the log held {truth.Count} events after the cursor");
    }
}
