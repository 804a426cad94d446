using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>
/// GET /api/events read over HTTP by a consumer that is cut off at random and resumes with Last-Event-ID on another
/// silo, while sessions are created and end (closed, evicted over Sessions:MaxPerUser, expired by timer) and a silo is
/// killed with kill -9: every event of the log reaches it exactly once, and every session stored as ended has its one
/// created and one end event, in that order.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class EventLogResumeTests(ITestOutputHelper output)
{
    private static readonly string[] EndTypes = ["closed", "expired", "evicted"];

    [Theory]
    [InlineData("postgres")]
    [InlineData("redis")]
    public async Task A_consumer_cut_off_at_random_and_resuming_across_a_kill_9_gets_every_event_once(string provider)
    {
        var clock = Stopwatch.StartNew();
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        await using var cluster = await ProcessCluster.StartAsync(provider == "redis" ? "revres" : "evres", 3, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:00:04",
            ["Sessions:WarningBefore"] = "00:00:02",
            ["Sessions:MaxPerUser"] = "3",
            ["Janitor:Period"] = "00:00:02",
        }, provider: provider);
        var client = cluster.Client;
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: 3 silos on {provider}");
        var start = await EventLogTruth.HeadAsync(client);
        var consumer = new ResumingEventConsumer(() => cluster.Running.ToList(), start, seed, disconnect: true);
        var churn = new SessionChurn(client, cluster.ClusterId, 40, seed);
        Func<ReceivedEvent, bool> ours = r => r.Event.Session.UserId.StartsWith(cluster.ClusterId, StringComparison.Ordinal);
        consumer.Run();
        churn.Start(4, TimeSpan.FromMilliseconds(10), 0.3);
        SiloProcess victim;
        try
        {
            await Wait.UntilAsync(() => Task.FromResult(churn.Created >= 300 && consumer.Received.Count(ours) >= 300 && consumer.Connections >= 3), TimeSpan.FromSeconds(60),
                () => $"300 sessions created and 300 of their events received before the kill ({churn.Summary()}; {consumer.Describe()})");
            // Not the silo the consumer reads from now (it is moved off a killed one anyway, by its failing connection).
            victim = cluster.Silos.Skip(1).First(s => s != consumer.Current);
            await victim.KillAsync();
            var atKill = churn.Created;
            var connectionsAtKill = consumer.Connections;
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: killed silo {victim.Index}; {churn.Summary()}; {consumer.Count} events received");
            await Wait.UntilAsync(() => Task.FromResult(churn.Created >= atKill + 300 && consumer.Connections >= connectionsAtKill + 3), TimeSpan.FromSeconds(60),
                () => $"300 creates and 3 consumer reconnects after the kill ({churn.Summary()}; {consumer.Describe()})\n{cluster.Logs()}");
        }
        finally
        {
            await churn.StopAsync();
        }
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: writers stopped: {churn.Summary()}");
        Assert.True(churn.Unexpected.IsEmpty, "failures not classified as transient:\n" + string.Join('\n', churn.Unexpected.Take(10)));

        // Every session ends (closed, evicted, or expired 4 s idle; the janitor finishes the ends of the killed silo's).
        // Sessions whose create was cut off but stored are known from their created event.
        var sessions = churn.Sessions.Keys.Concat(consumer.Received.Where(ours).Select(r => r.Event.Session.SessionId)).ToHashSet(StringComparer.Ordinal);
        var status = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Wait.UntilAsync(async () =>
        {
            var silos = cluster.Running.ToList();
            await Parallel.ForEachAsync(sessions.Where(id => status.GetValueOrDefault(id, "active") == "active"), new ParallelOptions { MaxDegreeOfParallelism = 6 }, async (id, _) =>
            {
                status[id] = await StatusAsync(http, silos[(id.GetHashCode() & int.MaxValue) % silos.Count], id);
            });
            return status.Values.All(s => s != "active");
        }, TimeSpan.FromSeconds(60), () => $"every session ended ({status.Count(s => s.Value == "active")} still active of {sessions.Count})", TimeSpan.FromMilliseconds(500));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: all {sessions.Count} sessions ended: {string.Join(", ", status.Values.CountBy(s => s).Select(c => $"{c.Value} {c.Key}"))}");

        // The consumer reads on until it has read through the log's head (its disconnects go on meanwhile).
        var head = EventLogTruth.Positions(await EventLogTruth.HeadAsync(client));
        await Wait.UntilAsync(() => Task.FromResult(consumer.Covers(head) || consumer.Fatal is not null), TimeSpan.FromSeconds(30),
            () => $"the consumer read through the head {SessionEventCursor.Format(head)} ({consumer.Describe()})");
        await consumer.StopAsync();
        Assert.True(consumer.Fatal is null, $"{consumer.Fatal}\n{consumer.Describe()}");
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: consumer: {consumer.Describe(0)}");

        var received = consumer.Received;
        var truth = await EventLogTruth.ReadAsync(client, start, EventLogTruth.Positions(consumer.Cursor), TimeSpan.FromSeconds(30));
        var problems = EventLogTruth.Verify(start, received, truth);
        Assert.True(problems.Count == 0, $"{problems.Count} problems in what the consumer received ({received.Count} events, the log {truth.Count}):\n{string.Join('\n', problems)}\n{consumer.Describe(40)}");

        // Per session: one created and one end, created first; no (session, type) twice but expiring.
        var bySession = received.Where(ours).Select((r, i) => (r, i)).ToLookup(x => x.r.Event.Session.SessionId, StringComparer.Ordinal);
        var wrong = new List<string>();
        var ended = sessions.Where(id => status[id] is "closed" or "expired").ToList();
        Assert.True(ended.Count > sessions.Count / 2, $"only {ended.Count} of {sessions.Count} sessions are stored as ended");
        foreach (var id in ended)
        {
            var events = bySession[id].Select(x => (Type: Type(x.r.Event.Type), x.i)).ToList();
            var created = events.Where(e => e.Type == "created").ToList();
            var ends = events.Where(e => EndTypes.Contains(e.Type)).ToList();
            var repeated = events.Where(e => e.Type != "expiring").CountBy(e => e.Type).Where(c => c.Value > 1).ToList();
            if (created.Count != 1 || ends.Count != 1 || created[0].i > ends[0].i || repeated.Count > 0)
            {
                wrong.Add($"{id} ({status[id]}): {string.Join(", ", events.Select(e => $"#{e.i} {e.Type}"))}");
            }
        }
        output.WriteLine($"{sessions.Count} sessions, {received.Count(ours)} of their events received: {string.Join(", ", received.Where(ours).CountBy(r => Type(r.Event.Type)).Select(c => $"{c.Value} {c.Key}"))}");
        Assert.True(wrong.Count == 0, $"{wrong.Count} sessions stored as ended without exactly one created then one end event:\n{string.Join('\n', wrong.Take(30))}");
        Assert.True(consumer.Connections >= 6, $"only {consumer.Connections} connections: the consumer did not resume several times");
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: done");
    }

    private static string Type(SessionEventType type) => type.ToString().ToLowerInvariant();

    /// <summary>The session's status as GET /api/sessions/{id} says it ("active" while the cluster cannot answer).</summary>
    private static async Task<string> StatusAsync(HttpClient http, SiloProcess silo, string id)
    {
        try
        {
            using var response = await http.GetAsync(silo.Url($"/api/sessions/{id}"));
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return response.StatusCode == HttpStatusCode.NotFound ? "not found" : "active";
            }
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return body.RootElement.GetProperty("status").GetString()!.ToLowerInvariant();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return "active";
        }
    }
}
