using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using OrleansSessions.Sessions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>One SSE message a consumer of GET /api/events received: its id (the event's cursor) and its event.</summary>
internal sealed record ReceivedEvent(string Id, SessionEvent Event, int Connection)
{
    public string Key => EventLogTruth.Key(Event);
}

/// <summary>
/// A consumer of GET /api/events over HTTP that starts with ?after=<c>start</c> and, when asked to, cuts its own
/// connection after a random number of events or milliseconds and resumes with Last-Event-ID (the id of the last
/// complete message it received) on the next running silo. A connection that fails (a killed silo, a 5xx) is resumed
/// the same way; a 4xx (410 cursor_expired, 400) stops the consumer with <see cref="Fatal"/>.
/// </summary>
internal sealed class ResumingEventConsumer(Func<IReadOnlyList<SiloProcess>> running, string start, int seed, bool disconnect)
{
    private readonly List<ReceivedEvent> _received = [];
    private readonly Lock _lock = new();
    private readonly ConcurrentQueue<string> _connections = new();
    private Task _run = Task.CompletedTask;
    private readonly CancellationTokenSource _stop = new();

    public string Start { get; } = start;

    /// <summary>The id of the last complete message received (the start cursor before the first).</summary>
    public string Cursor { get; private set; } = start;

    /// <summary>The silo the current connection is on.</summary>
    public SiloProcess? Current { get; private set; }

    public int Connections { get; private set; }

    public int Failures { get; private set; }

    public string? Fatal { get; private set; }

    public IReadOnlyList<ReceivedEvent> Received
    {
        get
        {
            lock (_lock)
            {
                return [.. _received];
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _received.Count;
            }
        }
    }

    /// <summary>One line per connection: silo, how it started, how many events, how it ended.</summary>
    public string Describe(int last = 15) => $"{Connections} connections, {Failures} failed, {Count} events" + (last > 0 ? "; last connections:\n" + string.Join('\n', _connections.TakeLast(last)) : "");

    public void Run() => _run = Task.Run(() => RunAsync(_stop.Token));

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _run;
    }

    /// <summary>True once the consumer has read through <paramref name="positions"/> in every partition.</summary>
    public bool Covers(long[] positions) => SessionEventCursor.TryParse(Cursor, out var at) && EventLogTruth.Covers(at, positions);

    private async Task RunAsync(CancellationToken stop)
    {
        var random = new Random(seed);
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var next = 0;
        while (!stop.IsCancellationRequested && Fatal is null)
        {
            var silos = running();
            if (silos.Count == 0)
            {
                await Task.Delay(100, CancellationToken.None);
                continue;
            }
            var silo = silos[next++ % silos.Count];
            Current = silo;
            // Cut after 1..400 events or 50..2,500 ms, never later than 5 s (a silo that hangs in a membership change
            // is left for another); without disconnects, after a minute.
            int? maxEvents = disconnect && random.Next(2) == 0 ? random.Next(1, 400) : null;
            var maxTime = !disconnect ? TimeSpan.FromMinutes(1) : maxEvents is null ? TimeSpan.FromMilliseconds(random.Next(50, 2_500)) : TimeSpan.FromSeconds(5);
            using var cut = CancellationTokenSource.CreateLinkedTokenSource(stop);
            cut.CancelAfter(maxTime);
            var first = Connections++ == 0;
            var from = Cursor;
            var got = 0;
            string end;
            try
            {
                got = await ReadAsync(http, silo, first, maxEvents, Connections, cut.Token);
                end = maxEvents is not null && got >= maxEvents ? "cut after its events" : "ended by the silo";
            }
            catch (OperationCanceledException) when (cut.IsCancellationRequested)
            {
                end = stop.IsCancellationRequested ? "stopped" : "cut after its time";
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
            {
                Failures++;
                end = $"failed: {ex.GetType().Name}: {ex.Message}";
                await Task.Delay(100, CancellationToken.None);
            }
            catch (Exception ex)
            {
                Fatal = $"connection {Connections} to silo {silo.Index}: {ex.GetType().Name}: {ex.Message}";
                end = "fatal";
            }
            _connections.Enqueue($"#{Connections} silo {silo.Index} {(first ? "?after=" : "Last-Event-ID: ")}{from}: {(maxEvents is { } m ? $"{m} events" : $"{maxTime.TotalMilliseconds:F0} ms")} budget, {got} events, {end}");
        }
        Current = null;
    }

    private async Task<int> ReadAsync(HttpClient http, SiloProcess silo, bool first, int? maxEvents, int connection, CancellationToken cancellationToken)
    {
        var cursor = Cursor;
        using var request = new HttpRequestMessage(HttpMethod.Get, silo.Url(first ? $"/api/events?after={Uri.EscapeDataString(cursor)}" : "/api/events"));
        if (!first)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", cursor);
        }
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if ((int)response.StatusCode >= 500)
        {
            throw new HttpRequestException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}", null, response.StatusCode);
        }
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"{(int)response.StatusCode} for cursor {cursor}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(body);
        string? id = null;
        string? data = null;
        var got = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    if (id is null)
                    {
                        throw new InvalidOperationException($"a message without an id: {data}");
                    }
                    var item = JsonSerializer.Deserialize<SessionEvent>(data, SessionJson.Options) ?? throw new InvalidOperationException($"not an event: {data}");
                    lock (_lock)
                    {
                        _received.Add(new ReceivedEvent(id, item with { Cursor = id }, connection));
                        Cursor = id;
                    }
                    if (++got >= maxEvents)
                    {
                        return got;
                    }
                }
                id = null;
                data = null;
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line[6..];
            }
        }
        return got;
    }
}

/// <summary>What the event log holds (read through <see cref="ISessionEventLogGrain"/>), and the checks of what a consumer received against it.</summary>
internal static class EventLogTruth
{
    /// <summary>An event's identity: its session, type and time (the log records each once).</summary>
    public static string Key(SessionEvent e) => $"{e.Session.SessionId}|{e.Type}|{e.At.UtcTicks}";

    public static bool Covers(long[] at, long[] positions) => at.Length == positions.Length && at.Zip(positions).All(p => p.First >= p.Second);

    public static long[] Positions(string cursor) => SessionEventCursor.TryParse(cursor, out var p) ? p : throw new InvalidOperationException($"not a cursor: {cursor}");

    /// <summary>The log's head, retrying while the cluster recovers.</summary>
    public static Task<string> HeadAsync(IClusterClient client)
        => Calls.RetryAsync(() => client.GetGrain<ISessionEventLogGrain>(0).HeadAsync(), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(10));

    /// <summary>Every event the log holds after <paramref name="start"/>, read on until the read covers <paramref name="through"/>, each with its partition and position.</summary>
    public static async Task<List<(SessionEvent Event, int Partition, long Position)>> ReadAsync(IClusterClient client, string start, long[] through, TimeSpan timeout)
    {
        var log = client.GetGrain<ISessionEventLogGrain>(0);
        var events = new List<(SessionEvent, int, long)>();
        var cursor = start;
        var positions = start == ISessionEventLogGrain.Start ? null : Positions(start);
        await Wait.UntilAsync(async () =>
        {
            while (true)
            {
                var page = await Calls.RetryAsync(() => log.ReadAsync(cursor, ISessionEventLogGrain.MaxLimit), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10));
                foreach (var item in page.Events)
                {
                    var at = Positions(item.Cursor!);
                    var partition = positions is null ? -1 : Enumerable.Range(0, at.Length).Single(p => at[p] != positions[p]);
                    if (partition < 0)
                    {
                        throw new InvalidOperationException("ReadAsync starts after a cursor here, not from 0");
                    }
                    events.Add((item, partition, at[partition]));
                    positions = at;
                }
                cursor = page.Cursor;
                positions = Positions(cursor);
                if (Covers(positions, through))
                {
                    return true;
                }
                if (page.Events.Count == 0)
                {
                    return false;
                }
            }
        }, timeout, () => $"the log read through {SessionEventCursor.Format(through)} (at {cursor})", TimeSpan.FromMilliseconds(200));
        return events;
    }

    /// <summary>
    /// The contradictions between what <paramref name="received"/> holds and what a consumer resuming from every id it
    /// got must have received: every event of the log after the start, up to the last id, exactly once; and each
    /// message's id covers exactly the events received up to it (so resuming from it repeats and skips nothing).
    /// </summary>
    public static List<string> Verify(string start, IReadOnlyList<ReceivedEvent> received, IReadOnlyList<(SessionEvent Event, int Partition, long Position)> truth)
    {
        var problems = new List<string>();
        var startAt = Positions(start);
        var where = new Dictionary<string, (int Partition, long Position)>(StringComparer.Ordinal);
        foreach (var (e, partition, position) in truth)
        {
            if (!where.TryAdd(Key(e), (partition, position)))
            {
                problems.Add($"the log holds {Key(e)} twice: at {partition}/{where[Key(e)].Position} and {partition}/{position}");
            }
        }
        var sorted = Enumerable.Range(0, startAt.Length).Select(p => truth.Where(t => t.Partition == p).Select(t => t.Position).Order().ToArray()).ToArray();
        var max = (long[])startAt.Clone();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < received.Count; i++)
        {
            var r = received[i];
            if (seen.TryGetValue(r.Key, out var earlier))
            {
                problems.Add($"#{i} {r.Event.Type} of {r.Event.Session.SessionId} (connection {r.Connection}, id {r.Id}) received twice: first as #{earlier} (connection {received[earlier].Connection}, id {received[earlier].Id})");
                continue;
            }
            seen[r.Key] = i;
            if (!where.TryGetValue(r.Key, out var at))
            {
                problems.Add($"#{i} {r.Key} (id {r.Id}) is not in the log");
                continue;
            }
            max[at.Partition] = Math.Max(max[at.Partition], at.Position);
            var id = Positions(r.Id);
            if (id[at.Partition] != at.Position)
            {
                problems.Add($"#{i} {r.Key} is at {at.Partition}/{at.Position} but its id {r.Id} says {id[at.Partition]} there");
            }
            if (!Covers(id, max))
            {
                problems.Add($"#{i} {r.Key} (connection {r.Connection}): its id {r.Id} is behind events already received ({SessionEventCursor.Format(max)}): resuming from it would repeat them");
            }
            var covered = Enumerable.Range(0, id.Length).Sum(p => CountThrough(sorted[p], id[p]));
            if (covered != seen.Count)
            {
                problems.Add($"#{i} {r.Key} (connection {r.Connection}): its id {r.Id} covers {covered} events of the log after the start, but {seen.Count} were received up to it: {(covered > seen.Count ? "a gap" : "a repeat")}");
            }
            if (problems.Count > 40)
            {
                return problems;
            }
        }
        var last = received.Count > 0 ? Positions(received[^1].Id) : startAt;
        var missing = truth.Where(t => t.Position <= last[t.Partition] && !seen.ContainsKey(Key(t.Event))).ToList();
        problems.AddRange(missing.Take(20).Select(t => $"never received: {Key(t.Event)} at {t.Partition}/{t.Position} (the last id received is {SessionEventCursor.Format(last)})"));
        return problems;
    }

    private static int CountThrough(long[] sorted, long position)
    {
        var index = Array.BinarySearch(sorted, position);
        return index >= 0 ? index + 1 : ~index;
    }
}

/// <summary>Writers that create sessions for users "prefix-u0".."prefix-u(n-1)" and close some of them at once, retrying nothing (a failed call is counted).</summary>
internal sealed class SessionChurn(IClusterClient client, string prefix, int users, int seed)
{
    private readonly CancellationTokenSource _stop = new();
    private Task[] _workers = [];

    /// <summary>Every acknowledged session, with its user.</summary>
    public ConcurrentDictionary<string, string> Sessions { get; } = new(StringComparer.Ordinal);

    public ConcurrentBag<Exception> Unexpected { get; } = [];

    private long _created;
    private long _closed;
    private long _failed;

    public long Created => Interlocked.Read(ref _created);

    public long Closed => Interlocked.Read(ref _closed);

    public string Summary() => $"{Created} created, {Closed} closed at once, {Interlocked.Read(ref _failed)} calls failed (transient)";

    /// <summary>Starts <paramref name="workers"/> writers, each pausing <paramref name="pause"/> between creates; <paramref name="closeShare"/> of the sessions are closed right after their create.</summary>
    public void Start(int workers, TimeSpan pause, double closeShare)
    {
        _workers = Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            var random = new Random(seed * 31 + w);
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var user = $"{prefix}-u{random.Next(users)}";
                    var info = await client.GetGrain<IUserSessionsGrain>(user).CreateSessionAsync().WaitAsync(TimeSpan.FromSeconds(5));
                    Sessions[info.SessionId] = user;
                    Interlocked.Increment(ref _created);
                    if (random.NextDouble() < closeShare)
                    {
                        await client.GetGrain<ISessionGrain>(info.SessionId).CloseAsync().WaitAsync(TimeSpan.FromSeconds(5));
                        Interlocked.Increment(ref _closed);
                    }
                }
                catch (Exception ex) when (Calls.IsTransient(ex))
                {
                    Interlocked.Increment(ref _failed);
                    await Task.Delay(20);
                }
                catch (Exception ex)
                {
                    Unexpected.Add(ex);
                    await Task.Delay(20);
                }
                if (pause > TimeSpan.Zero)
                {
                    await Task.Delay(pause);
                }
            }
        })).ToArray();
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
    }
}
