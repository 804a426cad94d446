using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// The durable session event log (issue 26). On each backend, an in-process silo (memory default; PostgreSQL as the
/// durable step, fresh database, pool 30; the bench's durable Redis, emptied first):
/// <list type="number">
/// <item>Ends: a closed loop of 64 outstanding session lives, each <c>CreateSessionAsync</c> of a new user then
/// <c>CloseAsync</c> of that session (the log records created and closed), after its own warm-up. Events recorded per
/// second = the growth of the partitions' heads (<see cref="ISessionEventLog.BoundsAsync"/>) over the measured loop,
/// beside the ends per second that produced them, with CPU per end of the bench process and of the backend's
/// processes.</item>
/// <item>On PostgreSQL the silo's <see cref="ISessionEventLog"/> is a <see cref="SwitchableEventLog"/>: after the
/// warm-up, rounds alternate (2 of each by default) between the <see cref="InMemorySessionEventLog"/> (everything else
/// on PostgreSQL: the end without the durable log, the floor of the cost per end) and PostgreSQL's log (goal: the end
/// with the log <= 1.3 x the cost of the end without it).</item>
/// <item>Replay: N events appended straight through the silo's <see cref="ISessionEventLog"/> (fast fill, 256 at
/// once), then a consumer resuming from the cursor of the head before the fill reads them all through
/// <see cref="ISessionEventLogGrain.ReadAsync"/> pages of 1,000 (as <c>GET /api/events</c> replays); beside it the floor
/// reads the same events straight from the log, partition after partition, 1,000 per read.</item>
/// </list>
/// </summary>
internal static class EventLogThroughput
{
    private const int PageSize = ISessionEventLogGrain.MaxLimit;

    public static async Task RunAsync(Args args)
    {
        var depth = args.Int("depth", 64);
        var duration = args.Seconds("seconds", 5);
        var warmup = args.Seconds("warmup-seconds", 2);
        var replayEvents = args.Int("replay-events", 100_000);
        var server = args.Get("pg", "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres");
        var pool = args.Int("pool", 30);
        var redis = args.Get("redis");
        var redisPid = args.Int("redis-pid", 0);
        var backends = args.Get("backends", redis is null ? "memory,postgres" : "memory,postgres,redis").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var ends = args.Get("ends", "true") == "true";
        var replay = args.Get("replay", "true") == "true";
        var rounds = args.Int("rounds", 2);
        var conditions = string.Create(CultureInfo.InvariantCulture, $"in-process silo, hosted client, {depth} outstanding session lives (CreateSessionAsync of a new user, then CloseAsync), {duration.TotalSeconds}s after {warmup.TotalSeconds}s warm-up");

        foreach (var backend in backends)
        {
            switch (backend)
            {
                case "memory":
                {
                    await using var silo = await InProcessSilo.StartAsync(clusterId: "eventsbench");
                    await RunBackendAsync(silo, "memory", "memory default (InMemorySessionEventLog)", () => TimeSpan.Zero, null, null);
                    break;
                }
                case "postgres":
                {
                    // One silo, its event log switchable between PostgreSQL's and the in-memory one: rounds alternate,
                    // with the same warm code, database and pool, so that the comparison is not the order of two silos.
                    var database = await PostgresDatabase.RecreateAsync(server, "orleanssessions_bench_events", pool);
                    await using var silo = await InProcessSilo.StartAsync(postgres: database, clusterId: "eventsbench", services: SwitchableEventLog.Install);
                    var logs = silo.Services.GetRequiredService<SwitchableEventLog>();
                    EndsResult? withoutLog = null;
                    EndsResult? withLog = null;
                    if (ends)
                    {
                        await EndsAsync(silo, depth, warmup, TimeSpan.Zero, () => TimeSpan.Zero);
                        for (var round = 0; round < rounds; round++)
                        {
                            logs.UseInMemory = true;
                            withoutLog = Add(withoutLog, await EndsAsync(silo, depth, TimeSpan.Zero, duration, () => CpuTime.OfAll("postgres")));
                            logs.UseInMemory = false;
                            withLog = Add(withLog, await EndsAsync(silo, depth, TimeSpan.Zero, duration, () => CpuTime.OfAll("postgres")));
                        }
                        Console.WriteLine($"  postgres, in-memory event log: {Describe(withoutLog!)}");
                    }
                    await RunBackendAsync(silo, "postgres", "PostgreSQL 127.0.0.1 (fsync on), UseOrleansSessionsPostgreSql, pool " + pool.ToString(CultureInfo.InvariantCulture),
                        () => CpuTime.OfAll("postgres"), withoutLog, withLog);
                    break;
                }
                case "redis":
                {
                    if (redis is null)
                    {
                        throw new ArgumentException("--redis <host:port> is required for the redis backend");
                    }
                    using (await RedisKeySpace.FlushAsync(redis))
                    {
                    }
                    await using var silo = await InProcessSilo.StartAsync(clusterId: "eventsbench", redis: redis);
                    await RunBackendAsync(silo, "redis", $"Redis {redis} (appendonly yes, appendfsync always), UseOrleansSessionsRedis",
                        () => redisPid > 0 ? CpuTime.Of(redisPid) : TimeSpan.Zero, null, null);
                    break;
                }
                default:
                    throw new ArgumentException($"unknown backend {backend} (memory, postgres, redis)");
            }
        }

        async Task RunBackendAsync(InProcessSilo silo, string name, string description, Func<TimeSpan> backendCpu, EndsResult? withoutLog, EndsResult? measured)
        {
            if (ends)
            {
                var withLog = measured ?? await EndsAsync(silo, depth, warmup, duration, backendCpu);
                Console.WriteLine($"  {name}: {Describe(withLog)}");
                var load = Load.Average();
                ResultSink.Add(new BenchResult
                {
                    Target = $"events.{name}.recorded",
                    Value = withLog.EventsPerSecond,
                    Unit = "events/s",
                    Baseline = "session ends/s producing them (create+close)",
                    BaselineValue = withLog.Loop.Rate,
                    Note = string.Create(CultureInfo.InvariantCulture,
                        $"{description}; {conditions}; {withLog.EventsPerSecond / withLog.Loop.Rate:F2} events per end (created and closed); {Describe(withLog)}; load {load}"),
                });
                if (withoutLog is not null)
                {
                    var timeRatio = withoutLog.Loop.Rate / withLog.Loop.Rate;
                    var cpuRatio = withLog.TotalCpuMicrosPerEnd / withoutLog.TotalCpuMicrosPerEnd;
                    ResultSink.Add(new BenchResult
                    {
                        Target = $"events.{name}.endCost",
                        Value = withLog.Loop.Rate,
                        Unit = "ends/s",
                        Goal = "cost per end <= 1.3 x the end without the log",
                        Baseline = "the same ends with InMemorySessionEventLog in place of the PostgreSQL log",
                        BaselineValue = withoutLog.Loop.Rate,
                        Pass = timeRatio <= 1.3,
                        Note = string.Create(CultureInfo.InvariantCulture,
                            $"{description}; {conditions}; time per end {timeRatio:F2} x (p50 {withLog.Loop.Histogram.Milliseconds(0.5) / withoutLog.Loop.Histogram.Milliseconds(0.5):F2} x), CPU per end (bench process + all postgres processes) {cpuRatio:F2} x the end without the log; with the log: {Describe(withLog)}; without: {Describe(withoutLog)}; load {load}"),
                    });
                }
            }
            if (replay)
            {
                await ReplayAsync(silo, name, description, replayEvents);
            }
        }
    }

    private sealed record EndsResult(LoopResult Loop, double EventsPerSecond, double CpuMicrosPerEnd, double BackendCpuMicrosPerEnd)
    {
        public double TotalCpuMicrosPerEnd => CpuMicrosPerEnd + BackendCpuMicrosPerEnd;

        public double Seconds { get; init; }

        public double Ends { get; init; }

        public long Events { get; init; }
    }

    private static async Task<EndsResult> EndsAsync(InProcessSilo silo, int depth, TimeSpan warmup, TimeSpan duration, Func<TimeSpan> backendCpu)
    {
        var client = silo.Client;
        var log = silo.Services.GetRequiredService<ISessionEventLog>();
        var partitions = silo.Services.GetRequiredService<IOptions<JanitorOptions>>().Value.Partitions;
        Func<int, ValueTask<SessionInfo>> end = async _ =>
        {
            var user = "ev-" + Interlocked.Increment(ref s_users).ToString(CultureInfo.InvariantCulture);
            var created = await client.GetGrain<IUserSessionsGrain>(user).CreateSessionAsync();
            return await client.GetGrain<ISessionGrain>(created.SessionId).CloseAsync();
        };
        if (warmup > TimeSpan.Zero)
        {
            await Loops.ClosedAsync(depth, 1_000_000, warmup, end, record: false);
        }
        if (duration == TimeSpan.Zero)
        {
            return null!;
        }
        var heads = await HeadsAsync(log, partitions);
        var cpu = CpuTime.Self();
        var backend = backendCpu();
        var stopwatch = Stopwatch.StartNew();
        var loop = await Loops.ClosedAsync(depth, 1_000_000, duration, end);
        // Appends finish before CloseAsync answers: the heads now hold every event of the measured ends.
        var seconds = stopwatch.Elapsed.TotalSeconds;
        // The loop's rate is over its own time, which includes the calls still answering after the duration.
        var endsDone = loop.Rate * seconds;
        var cpuPerEnd = (CpuTime.Self() - cpu).TotalMicroseconds / endsDone;
        var backendPerEnd = (backendCpu() - backend).TotalMicroseconds / endsDone;
        var recorded = (await HeadsAsync(log, partitions)).Sum() - heads.Sum();
        return new EndsResult(loop, recorded / seconds, cpuPerEnd, backendPerEnd) { Seconds = seconds, Ends = endsDone, Events = recorded };
    }

    private static long s_users;

    /// <summary>Two measured loops as one: rates over their summed time, CPU over their summed ends, histograms merged.</summary>
    private static EndsResult Add(EndsResult? a, EndsResult b)
    {
        if (a is null)
        {
            return b;
        }
        var histogram = new LatencyHistogram();
        histogram.Add(a.Loop.Histogram);
        histogram.Add(b.Loop.Histogram);
        var ends = a.Ends + b.Ends;
        var seconds = a.Seconds + b.Seconds;
        var loop = new LoopResult(ends / seconds, histogram, a.Loop.Errors + b.Loop.Errors,
            (a.Loop.BytesPerCall * a.Ends + b.Loop.BytesPerCall * b.Ends) / ends, double.NaN);
        return new EndsResult(loop, (a.Events + b.Events) / seconds,
            (a.CpuMicrosPerEnd * a.Ends + b.CpuMicrosPerEnd * b.Ends) / ends,
            (a.BackendCpuMicrosPerEnd * a.Ends + b.BackendCpuMicrosPerEnd * b.Ends) / ends)
        { Seconds = seconds, Ends = ends, Events = a.Events + b.Events };
    }

    private static async Task<long[]> HeadsAsync(ISessionEventLog log, int partitions)
    {
        var heads = new long[partitions];
        for (var p = 0; p < partitions; p++)
        {
            heads[p] = (await log.BoundsAsync(p)).Head;
        }
        return heads;
    }

    private static async Task ReplayAsync(InProcessSilo silo, string name, string description, int count)
    {
        var client = silo.Client;
        var log = silo.Services.GetRequiredService<ISessionEventLog>();
        var partitions = silo.Services.GetRequiredService<IOptions<JanitorOptions>>().Value.Partitions;
        var reader = client.GetGrain<ISessionEventLogGrain>(0);
        var cursor = await reader.HeadAsync();
        var start = await HeadsAsync(log, partitions);

        // Fast fill: one "created" event per made-up session, straight through the log, 256 appends at once.
        var now = DateTimeOffset.UtcNow;
        var fillRate = await Loops.ForEachAsync(count, 256, async i =>
        {
            var id = "replay-" + i.ToString("D8", CultureInfo.InvariantCulture);
            var at = DateTimeOffset.UtcNow;
            var info = new SessionInfo
            {
                SessionId = id,
                UserId = "replay-user-" + (i % 1000).ToString(CultureInfo.InvariantCulture),
                CreatedAt = at,
                LastActivity = at,
                ExpiresAt = at + TimeSpan.FromMinutes(30),
                Status = SessionStatus.Active,
                IdleTimeout = TimeSpan.FromMinutes(30),
                AbsoluteTimeout = TimeSpan.FromHours(8),
            };
            await log.AppendAsync(SessionDeadlinePartitioner.GetPartition(id, partitions), 1, new SessionEvent { Type = SessionEventType.Created, Session = info, At = at });
        });
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name}: filled {count:N0} events in {(DateTimeOffset.UtcNow - now).TotalSeconds:F1}s ({fillRate:N0}/s)"));

        // The consumer: pages of 1,000 through the grain from the cursor of the head before the fill.
        var cpu = CpuTime.Self();
        var stopwatch = Stopwatch.StartNew();
        long read = 0;
        var pages = 0;
        var pageTimes = new LatencyHistogram();
        while (read < count)
        {
            var t0 = Stopwatch.GetTimestamp();
            var page = await reader.ReadAsync(cursor, PageSize);
            pageTimes.Record((long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds);
            pages++;
            if (page.Events.Count == 0)
            {
                break;
            }
            read += page.Events.Count;
            cursor = page.Cursor;
        }
        var grainSeconds = stopwatch.Elapsed.TotalSeconds;
        var grainCpu = (CpuTime.Self() - cpu).TotalMicroseconds / read;

        // The floor: the same events straight from the log, partition after partition.
        cpu = CpuTime.Self();
        stopwatch.Restart();
        long direct = 0;
        var reads = 0;
        for (var p = 0; p < partitions; p++)
        {
            var after = start[p];
            while (true)
            {
                var events = await log.ReadAsync(p, after, PageSize);
                reads++;
                if (events.Count == 0)
                {
                    break;
                }
                direct += events.Count;
                after = events[^1].Position;
            }
        }
        var directSeconds = stopwatch.Elapsed.TotalSeconds;
        var directCpu = (CpuTime.Self() - cpu).TotalMicroseconds / direct;

        ResultSink.Add(new BenchResult
        {
            Target = $"events.{name}.replay",
            Value = read / grainSeconds,
            Unit = "events/s",
            Baseline = "ISessionEventLog.ReadAsync straight, partition after partition, 1,000 per read",
            BaselineValue = direct / directSeconds,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{description}; a consumer {count:N0} events behind (filled straight through the log at {fillRate:N0}/s over {partitions} partitions) reads ISessionEventLogGrain.ReadAsync pages of {PageSize:N0} from the head's cursor before the fill: {read:N0} events in {pages} pages, {grainSeconds:F2}s, page p50 {pageTimes.Milliseconds(0.5):F2} p99 {pageTimes.Milliseconds(0.99):F2} ms, {grainCpu:F1} us CPU of the bench process per event; straight from the log: {direct:N0} events in {reads} reads, {directSeconds:F2}s, {directCpu:F1} us CPU per event; load {Load.Average()}"),
        });
    }

    private static string Describe(EndsResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Loop.Rate:N0} ends/s, {r.EventsPerSecond:N0} events/s, end p50 {r.Loop.Histogram.Milliseconds(0.5):F2} p99 {r.Loop.Histogram.Milliseconds(0.99):F2} ms, {r.Loop.Errors} errors, CPU per end: bench process {r.CpuMicrosPerEnd:F1} us, backend {r.BackendCpuMicrosPerEnd:F1} us, {r.Loop.BytesPerCall / 1024:F1} KB allocated per end");
}

/// <summary>
/// The silo's event log, switchable at run time between the backend's (the one the backend registered) and an
/// <see cref="InMemorySessionEventLog"/>: the PostgreSQL end with and without its durable log, in one silo.
/// </summary>
internal sealed class SwitchableEventLog(ISessionEventLog backend) : ISessionEventLog
{
    private readonly InMemorySessionEventLog _memory = new();

    /// <summary>Appends and reads go to the in-memory log while true.</summary>
    public bool UseInMemory { get; set; }

    private ISessionEventLog Current => UseInMemory ? _memory : backend;

    public static void Install(IServiceCollection services)
    {
        var registered = services.Last(d => d.ServiceType == typeof(ISessionEventLog));
        var factory = registered.ImplementationFactory ?? throw new InvalidOperationException("the backend's event log is not registered by a factory");
        services.Remove(registered);
        services.AddSingleton(sp => new SwitchableEventLog((ISessionEventLog)factory(sp)));
        services.AddSingleton<ISessionEventLog>(sp => sp.GetRequiredService<SwitchableEventLog>());
    }

    public ValueTask<long> AppendAsync(int partition, long sequence, SessionEvent sessionEvent, CancellationToken cancellationToken = default)
        => Current.AppendAsync(partition, sequence, sessionEvent, cancellationToken);

    public ValueTask<IReadOnlyList<LoggedSessionEvent>> ReadAsync(int partition, long after, int limit, CancellationToken cancellationToken = default)
        => Current.ReadAsync(partition, after, limit, cancellationToken);

    public ValueTask<SessionEventLogBounds> BoundsAsync(int partition, CancellationToken cancellationToken = default)
        => Current.BoundsAsync(partition, cancellationToken);

    public ValueTask<int> TrimAsync(int partition, DateTimeOffset before, CancellationToken cancellationToken = default)
        => Current.TrimAsync(partition, before, cancellationToken);
}
