using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansSessions.Benchmarks.Bare;
using OrleansSessions.Benchmarks.Baselines;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Hosting;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Dormant sessions, real time, one in-process silo per part, on the memory default, PostgreSQL (fresh database) and
/// the bench's durable Redis (emptied first). Per backend (<see cref="LifecycleAsync"/>): (1) N creates (one user each,
/// 64 outstanding) beside the bare floor of the same work in the same silo (two new activations, two writes); (2) with
/// Sessions:DormantAfter short and each session's idle timeout long enough for all of them to be dormant before the
/// first warning point, the wait until the silo's session activations reach 0, the user activations collected, and the
/// managed heap per dormant session (with a breakdown on the memory default, see DormantSessions.Breakdown.cs) beside
/// a bare activation and the dictionary baseline; (3) expiry with warnings: every session ends once with one
/// "expiring" and one "expired" event (counted in the silo's event log), lag from the silo's sessions.expiry_lag
/// histogram and sessions.janitor_lag. Then, on the memory default and PostgreSQL (<see cref="EndsAsync"/>), dormant
/// ends per second with warnings off beside the bare activate-read-write-deactivate floor.
/// </summary>
internal static partial class DormantSessions
{
    private const int Concurrency = 64;
    private const string DormantCounter = "sessions.dormant";
    private const string ExpiringCounter = "sessions.expiring";
    private const string JanitorLag = "sessions.janitor_lag";
    // The users of the sessions measured (one session each).
    private const string UserPrefix = "dor-";
    private const string DefaultPostgres = "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres";

    // The ceiling of the sessions' own idle timeouts (each create asks for its own, shorter one).
    private static readonly TimeSpan IdleCeiling = TimeSpan.FromHours(2);

    // Warm-up sessions end on their own timers this long after their create, before anything is measured.
    private static readonly TimeSpan WarmIdle = TimeSpan.FromSeconds(1);

    private enum Backend
    {
        Memory,
        Postgres,
        Redis,
    }

    /// <summary>What every part of one run shares.</summary>
    private sealed record Settings(int Count, int EndsCount, TimeSpan DormantAfter, TimeSpan Warning, string Postgres, string? Redis, int Pool, double DictionaryBytes, TimeSpan Hold, double Spread);

    public static async Task RunAsync(Args args)
    {
        var count = args.Int("sessions", 100_000);
        var endsCount = args.Int("ends-sessions", Math.Min(count, 20_000));
        var backends = Parse(args.Get("backends", "memory,postgres,redis"));
        var endsBackends = Parse(args.Get("ends-backends", "memory,postgres"));
        var redis = args.Get("redis");

        // The dictionary baseline first, on a clean heap (as the memory step).
        var baselineBefore = HeapPerSession.Heap();
        var manager = new DictionarySessionManager(TimeSpan.FromMinutes(30));
        for (var i = 0; i < count; i++)
        {
            manager.Create("user-" + Key(i));
        }
        var dictionaryBytes = (HeapPerSession.Heap() - baselineBefore) / (double)count;
        GC.KeepAlive(manager);
        manager = null;

        var settings = new Settings(count, endsCount, args.Seconds("dormant-seconds", 10), args.Seconds("warning-seconds", 10),
            args.Get("pg", DefaultPostgres), redis, args.Int("pool", 30), dictionaryBytes, args.Seconds("hold", 0), Math.Max(1, args.Double("spread", 1)));
        var total = Stopwatch.StartNew();
        foreach (var backend in backends)
        {
            if (backend == Backend.Redis && redis is null)
            {
                Console.WriteLine("  redis: skipped (no --redis host:port)");
                continue;
            }
            var part = Stopwatch.StartNew();
            if (await LifecycleAsync(backend, settings) is { } breakdown)
            {
                await BreakdownAsync(settings, breakdown);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{Name(backend)}] creates, dormancy and expiry took {part.Elapsed.TotalSeconds:F0}s"));
        }
        foreach (var backend in endsBackends)
        {
            if (backend == Backend.Redis && redis is null)
            {
                continue;
            }
            var part = Stopwatch.StartNew();
            await EndsAsync(backend, settings);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{Name(backend)}] dormant ends took {part.Elapsed.TotalSeconds:F0}s"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  dormant step: {total.Elapsed.TotalSeconds:F0}s"));
    }

    /// <summary>
    /// Creates (1), dormancy and heap (2), expiry with warnings (3) on one backend; on the memory default, what the
    /// breakdown of the heap per dormant session needs (measured in a silo of its own afterwards).
    /// </summary>
    private static async Task<BreakdownInput?> LifecycleAsync(Backend backend, Settings settings)
    {
        var count = settings.Count;
        var name = Name(backend);
        var config = Config(settings.DormantAfter, settings.Warning);
        // The in-memory event log keeps Events:MemoryLimit events per partition (default 250,000); each session here adds
        // three (created, expiring, expired). Raised only when they would not fit, so that every one can be counted.
        var eventsPerPartition = (3L * count + 10_000) / new JanitorOptions().Partitions * 5 / 4;
        var memoryLimitRaised = backend == Backend.Memory && eventsPerPartition > InMemorySessionEventLog.MaxEventsPerPartition;
        if (memoryLimitRaised)
        {
            config["Events:MemoryLimit"] = eventsPerPartition.ToString(CultureInfo.InvariantCulture);
        }
        await using var silo = await StartSiloAsync(backend, settings, config, "dormant" + name);
        var client = silo.Client;
        var metrics = silo.Services.GetRequiredService<SessionMetrics>();
        var partitions = silo.Services.GetRequiredService<IOptions<JanitorOptions>>().Value.Partitions;
        var window = silo.Services.GetRequiredService<IOptions<JanitorOptions>>().Value.Window;
        var quantum = silo.Services.GetRequiredService<IOptions<GrainCollectionOptions>>().Value.CollectionQuantum;
        var log = silo.Services.GetRequiredService<ISessionEventLog>();
        using var meter = new SiloMeter(silo.Services, DormantCounter, ExpiringCounter, JanitorLag);

        // Warm-up of every path measured (JIT, storage, connections); the warm sessions end on their own timers. The
        // second round of warm creates gives the create rate the sessions' idle timeout is computed from.
        var warm = Math.Min(2_000, count);
        await Loops.ForEachAsync(warm, Concurrency, i => Bare(client, "warm-a-" + Key(i)).WriteAndCallAsync("warm-b-" + Key(i)));
        await CreateAsync(client, "warm1-", warm / 2, _ => WarmIdle);
        var warmRound = await CreateAsync(client, "warm2-", warm, _ => WarmIdle);
        await WaitUntilAsync(() => metrics.Ended >= warm / 2 + warm, DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30));

        // (1) The floor: N times a new bare grain writing one field and calling another new one that writes its own.
        var floorWatch = Stopwatch.StartNew();
        var floorRate = await Loops.ForEachAsync(count, Concurrency, i => Bare(client, "pa-" + Key(i)).WriteAndCallAsync("pb-" + Key(i)));
        var floorSeconds = floorWatch.Elapsed.TotalSeconds;
        await CollectAsync(silo, partitions);
        // The heap floor: N bare grains activated by a no-op call; then collected, what Orleans keeps of a grain that
        // was activated and deactivated (its directory cache entry, ...).
        var noopBefore = HeapPerSession.Heap();
        await Loops.ForEachAsync(count, Concurrency, i => Bare(client, "pn-" + Key(i)).PingAsync());
        var bareNoop = (HeapPerSession.Heap() - noopBefore) / (double)count;
        await CollectAsync(silo, partitions);
        await Task.Delay(500);
        var bareCollected = (HeapPerSession.Heap() - noopBefore) / (double)count;

        var heads = await HeadsAsync(log, partitions);
        var before = HeapPerSession.Heap();
        var liveBefore = metrics.ActiveSessionActivations;
        await HoldAsync(name + "-before", settings.Hold);

        // Each session's idle timeout: long enough for the creates, dormancy (DormantAfter plus Orleans' collection
        // quantum), the collection and heap measurement, and the warning. The creates' time is estimated from the warm-up's
        // rate, at most twice the floor's time (creates at half the floor's rate; the warm-up's rate is noisy on a shared
        // machine and low while the JIT is still at work), plus 20%.
        var createEstimate = TimeSpan.FromSeconds(Math.Min(count / warmRound.Rate, 2 * floorSeconds) * 1.2);
        var heapSlack = TimeSpan.FromSeconds(10 + 20.0 * count / 100_000);
        var idle = createEstimate + settings.DormantAfter + quantum + TimeSpan.FromSeconds(5) + heapSlack + settings.Hold + settings.Warning + TimeSpan.FromSeconds(5);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  [{name}] floor {floorRate:N0}/s; warm creates {warmRound.Rate:N0}/s; creating {count} sessions with idle timeout {idle.TotalSeconds:F0}s (DormantAfter {settings.DormantAfter.TotalSeconds}s, collection quantum {quantum.TotalSeconds}s, WarningBefore {settings.Warning.TotalSeconds}s)"));
        // --spread S (default 1): the deadlines S times as far apart as the creates were (a due rate of the create rate / S),
        // each session's idle timeout growing with the time since the first create.
        var createStart = DateTimeOffset.UtcNow;
        var created = await CreateAsync(client, UserPrefix, count, _ => idle + (DateTimeOffset.UtcNow - createStart) * (settings.Spread - 1));
        var createEnd = DateTimeOffset.UtcNow;
        var firstDeadline = created.FirstDeadline;
        var lastDeadline = created.LastDeadline;
        var firstWarning = firstDeadline - settings.Warning;
        var liveAfterCreates = metrics.ActiveSessionActivations - liveBefore;
        var endedBeforeDormancy = metrics.Ended;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  [{name}] created {count} in {created.Seconds:F1}s ({created.Rate:N0}/s, {created.Rate / floorRate:F2} x the floor); {liveAfterCreates} session activations; first warning in {(firstWarning - createEnd).TotalSeconds:F0}s"));

        // (2) Dormancy: the silo's session activations down to 0 (given up 30 s after DormantAfter and a collection
        // quantum, or 5 s before the first warning point), their count every 2 s meanwhile.
        var dormantDeadline = Min(createEnd + settings.DormantAfter + quantum + TimeSpan.FromSeconds(30), firstWarning - TimeSpan.FromSeconds(5));
        var trace = new List<long>();
        var traceWatch = Stopwatch.StartNew();
        var dormantAfterCreates = await WaitUntilAsync(() =>
        {
            var live = metrics.ActiveSessionActivations - liveBefore;
            if (traceWatch.Elapsed.TotalSeconds >= 2 * trace.Count)
            {
                trace.Add(live);
            }
            return live <= 0;
        }, dormantDeadline, 250);
        var activationsLeft = metrics.ActiveSessionActivations - liveBefore;
        var dormantCounted = meter.Counter(DormantCounter);
        var typesBefore = await TypeCountsAsync(silo);
        await CollectAsync(silo, partitions);
        await Task.Delay(500);
        var after = HeapPerSession.Heap();
        var perSession = (after - before) / (double)count;
        var typesAfter = await TypeCountsAsync(silo);
        await HoldAsync(name + "-dormant", settings.Hold);
        var queued = metrics.JanitorQueued;
        var heapAt = DateTimeOffset.UtcNow;
        var endedBeforeExpiry = metrics.Ended - endedBeforeDormancy;
        var templates = backend == Backend.Memory ? await ReadTemplatesAsync(silo, created.Sample) : null;
        // The share of Orleans' memory stream (every session event is published on it and its queue cache keeps events
        // for minutes): N copies of a created event published on a stream of the same provider, before the first warning.
        var streamShare = await StreamShareAsync(silo, created.Sample, count, firstWarning - TimeSpan.FromSeconds(2));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  [{name}] {(dormantAfterCreates is { } d ? $"all dormant {d.TotalSeconds:F1}s after the last create" : $"{activationsLeft} session activations left when given up")}; {perSession:F0} B per dormant session; activations by type before the collection [{Describe(typesBefore)}], after [{Describe(typesAfter)}]"));

        // (3) Expiry with warnings.
        var endedBefore = metrics.Ended;
        var lagBefore = new long[ExpiryLagHistogram.BucketCount];
        metrics.ExpiryLagCounts.CopyTo(lagBefore);
        meter.Reset();
        var giveUpAt = lastDeadline + TimeSpan.FromSeconds(Math.Max(120, created.Seconds));
        var peakActivations = 0L;
        var done = await WaitUntilAsync(() =>
        {
            peakActivations = Math.Max(peakActivations, metrics.ActiveSessionActivations);
            return metrics.Ended - endedBefore >= count;
        }, giveUpAt, 250);
        var ended = metrics.Ended - endedBefore;
        var lastEndAfterDeadline = DateTimeOffset.UtcNow - lastDeadline;
        var lag = new long[ExpiryLagHistogram.BucketCount];
        metrics.ExpiryLagCounts.CopyTo(lag);
        for (var b = 0; b < lag.Length; b++)
        {
            lag[b] -= lagBefore[b];
        }
        double Lag(double quantile) => ExpiryLagHistogram.Quantile(lag, quantile) ?? double.NaN;
        var janitorSeen = meter.Seen(JanitorLag);
        var wakesAtWarning = meter.Histogram(JanitorLag, "warning");
        var wakesAtDeadline = meter.Histogram(JanitorLag, "deadline");
        var wakes = meter.Histogram(JanitorLag);
        var expiringCounted = meter.Counter(ExpiringCounter);
        var readStart = Stopwatch.StartNew();
        var events = await CountEventsAsync(log, heads, UserPrefix);
        var readSeconds = readStart.Elapsed.TotalSeconds;
        var completed = done is not null && ended >= count;
        var load = Load.Average();

        var prefix = $"dormant.{name}";
        var where = Where(backend, settings);
        var ratio = created.Rate / floorRate;
        ResultSink.Add(new BenchResult
        {
            Target = $"{prefix}.create@{count}",
            Value = created.Rate,
            Unit = "sessions/s",
            Goal = backend == Backend.Memory ? ">= 0.5 x bare two activations, two writes" : "",
            Baseline = "bare: a new grain writes one field and calls a new grain that writes one (two activations, two writes), same storage, 64 outstanding",
            BaselineValue = floorRate,
            Pass = backend == Backend.Memory ? ratio >= 0.5 : null,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{where}: {count} sessions created (CreateSessionAsync with the session's own idle timeout, one new user each), 64 outstanding, in {created.Seconds:F1}s: {created.Rate:N0}/s = {ratio:F2} x the bare floor measured just before in the same silo ({floorRate:N0}/s; the floor's grains were collected before the creates; warm-up: {warm} floor pairs and {warm / 2 + warm} creates, ending on their own timers, first); {liveAfterCreates} session activations after the creates; load {load}"),
        });

        var goalBytes = backend == Backend.Memory ? 1024 : 512;
        var dormancy = dormantAfterCreates is { } all
            ? string.Create(CultureInfo.InvariantCulture, $"all {count} dormant {all.TotalSeconds:F1}s after the last create (session activations every 2 s from the last create: [{string.Join(' ', trace)}])")
            : string.Create(CultureInfo.InvariantCulture, $"NOT ALL DORMANT: {activationsLeft} session activations left {(dormantDeadline - createEnd).TotalSeconds:F0}s after the last create, when the wait was given up (the heap figure holds them; session activations every 2 s from the last create: [{string.Join(' ', trace)}])");
        var heapNote = string.Create(CultureInfo.InvariantCulture,
            $"{where}, Sessions:DormantAfter {settings.DormantAfter.TotalSeconds}s (Orleans' collection quantum {quantum.TotalSeconds}s), Janitor:Window {window.TotalSeconds}s: {dormancy}; sessions.dormant counted {(meter.Seen(DormantCounter) ? dormantCounted.ToString(CultureInfo.InvariantCulture) : "nothing (no such counter in this build)")}; {endedBeforeExpiry} sessions ended before the heap was measured; then ForceActivationCollection(0) (the idle user activations; the janitor partitions started again after it with Janitors.EnsureStartedAsync) and the heap after three full blocking compacting collections, minus the heap before the creates, / {count}: {perSession:F0} B per dormant session (heap {(after - before) / 1048576.0:F0} MiB more); activations by grain type before the collection [{Describe(typesBefore)}], after [{Describe(typesAfter)}]; {queued} due points in the janitor partitions' queues (janitor.queued); {DescribeStreamShare(streamShare, count)}; of the {perSession:F0} B, {(streamShare is { } sh ? $"the memory stream's copy of the created event {sh.Bytes:F0} B and " : "")}what Orleans keeps of two grains activated once and collected (the session and its user, 2 x {bareCollected:F0} B) leave {perSession - (streamShare?.Bytes ?? 0) - 2 * bareCollected:F0} B{(backend == Backend.Memory ? " (the records held in memory: dormant.memory.heap.*)" : "")}; measured {(heapAt < firstWarning ? $"{(firstWarning - heapAt).TotalSeconds:F0}s before the first warning point" : $"{(heapAt - firstWarning).TotalSeconds:F0}s AFTER the first warning point (some sessions were woken)")}; floors in the same silo: bare grain activation (no-op call) {bareNoop:F0} B, and after it was collected {bareCollected:F0} B (what Orleans keeps of a grain activated once: a dormant session leaves two such, itself and its user); dictionary+lock record {settings.DictionaryBytes:F0} B; load {load}");
        ResultSink.Add(new BenchResult
        {
            Target = $"{prefix}.heapPerSession@{count}",
            Value = perSession,
            Unit = "bytes",
            Goal = $"<= {goalBytes}",
            Baseline = "bare grain activation (no-op call), same silo",
            BaselineValue = bareNoop,
            Pass = dormantAfterCreates is not null && perSession <= goalBytes,
            Note = heapNote,
        });

        var expiryNote = string.Create(CultureInfo.InvariantCulture,
            $"{where}, real time, Sessions:WarningBefore {settings.Warning.TotalSeconds}s, idle timeout {idle.TotalSeconds:F0}s{(settings.Spread > 1 ? $" plus {settings.Spread - 1:F1} x the time since the first create (--spread {settings.Spread:F1})" : "")}, deadlines spread over {(lastDeadline - firstDeadline).TotalSeconds:F1}s ({count / Math.Max(0.001, (lastDeadline - firstDeadline).TotalSeconds):N0} due/s{(settings.Spread > 1 ? "" : ", the rate they were created at")}): {ended}/{count} sessions ended in the silo{(completed ? $", the last {lastEndAfterDeadline.TotalSeconds:F1}s after the last deadline" : $" (TIMED OUT {Math.Max(120, created.Seconds):F0}s after the last deadline: the lag figures cover those that ended, a lower bound)")}; at most {peakActivations} session activations at once meanwhile (woken at their warning points); event log read after (from the heads before the creates, {events.Read:N0} events in {readSeconds:F1}s{(events.Trimmed ? ", SOME TRIMMED before they were read" : "")}{(memoryLimitRaised ? $", Events:MemoryLimit raised to {eventsPerPartition:N0}" : "")}): {events.Sessions} sessions of this part in it, {events.ExactlyOnce}/{count} with exactly one created, one expiring and one expired event and no other end, {events.MissingExpired} without an expired event, {events.DuplicateExpired} with more than one, {events.MissingExpiring} without an expiring event, {events.DuplicateExpiring} with more than one, {events.OtherEnds} with another end; sessions.expiring counted {expiringCounted}; expiry lag (sessions.expiry_lag, the end's time minus the deadline; 4 buckets per doubling, each figure the upper bound of its bucket) p50 {Lag(0.5):F1} p99 {Lag(0.99):F1} max {Lag(1):F1} ms; janitor lag (sessions.janitor_lag, the wake's time minus its due point) {(janitorSeen ? $"at warning points: {Describe(wakesAtWarning)}; at deadlines: {Describe(wakesAtDeadline)}" : "not recorded (no such histogram in this build)")}; load {load}");
        ResultSink.Add(new BenchResult
        {
            Target = $"{prefix}.expiry.exactlyOnce@{count}",
            Value = events.ExactlyOnce,
            Unit = "sessions",
            Goal = $"= {count} (one created, one expiring, one expired event each)",
            Pass = completed && events.ExactlyOnce == count,
            Note = expiryNote,
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"{prefix}.expiry.lag.p99@{count}",
            Value = Lag(0.99),
            Unit = "ms",
            Goal = "<= 100",
            Pass = completed && Lag(0.99) <= 100,
            Note = "sessions woken at their warning points end on their own timers: the silo's sessions.expiry_lag histogram over this part (see dormant.*.expiry.exactlyOnce)",
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"{prefix}.janitor.lag.p99@{count}",
            Value = wakes.Count > 0 ? wakes.Milliseconds(0.99) : double.NaN,
            Unit = "ms",
            Goal = "<= 1000",
            Pass = completed && wakes.Count > 0 && wakes.Milliseconds(0.99) <= 1000,
            Note = janitorSeen
                ? string.Create(CultureInfo.InvariantCulture, $"the silo's sessions.janitor_lag over this part, all points: {Describe(wakes)} (dormant sessions woken by their janitor partition)")
                : "sessions.janitor_lag not recorded: no such histogram in this build",
        });

        ResultSink.Add(new BenchResult
        {
            Target = $"{prefix}.heap.bareCollected@{count}",
            Value = bareCollected,
            Unit = "bytes",
            Note = "per bare grain activated by a no-op call and then collected (ForceActivationCollection(0)), same silo: what Orleans keeps of a grain that is no longer activated (its grain directory cache entry, ...); a dormant session and its collected user are two such grains",
        });
        if (streamShare is { } share)
        {
            ResultSink.Add(new BenchResult
            {
                Target = $"{prefix}.heap.streamCache@{count}",
                Value = share.Bytes,
                Unit = "bytes",
                Note = "per session event held by Orleans' memory stream (its queue cache keeps events for StreamCacheEvictionOptions.DataMinTimeInCache, 5 min by default): the created event of each dormant session is still there when the heap is measured; see dormant.*.heapPerSession",
            });
        }
        return templates is null ? null : new BreakdownInput(templates, perSession, streamShare?.Bytes ?? 0, 2 * bareCollected, prefix);
    }

    /// <summary>Starts the silo of <paramref name="backend"/>: a fresh PostgreSQL database, or the durable Redis emptied first.</summary>
    private static async Task<InProcessSilo> StartSiloAsync(Backend backend, Settings settings, Dictionary<string, string?> config, string clusterId)
    {
        switch (backend)
        {
            case Backend.Postgres:
                var connectionString = await PostgresDatabase.RecreateAsync(settings.Postgres, "orleanssessions_bench_dormant", settings.Pool);
                return await InProcessSilo.StartAsync(config, postgres: connectionString, clusterId: clusterId);
            case Backend.Redis:
                using (await RedisKeySpace.FlushAsync(settings.Redis!))
                {
                }
                return await InProcessSilo.StartAsync(config, clusterId: clusterId, redis: settings.Redis);
            default:
                return await InProcessSilo.StartAsync(config, clusterId: clusterId);
        }
    }

    private static Dictionary<string, string?> Config(TimeSpan dormantAfter, TimeSpan warning) => new()
    {
        ["Sessions:IdleTimeout"] = IdleCeiling.ToString("c", CultureInfo.InvariantCulture),
        ["Sessions:WarningBefore"] = warning.ToString("c", CultureInfo.InvariantCulture),
        ["Sessions:DormantAfter"] = dormantAfter.ToString("c", CultureInfo.InvariantCulture),
    };

    private static string Where(Backend backend, Settings settings) => backend switch
    {
        Backend.Postgres => string.Create(CultureInfo.InvariantCulture, $"PostgreSQL local, in-process silo (UseOrleansSessionsPostgreSql, fresh database, pool {settings.Pool})"),
        Backend.Redis => "Redis local (the bench's durable redis-server, appendfsync always, emptied first), in-process silo (UseOrleansSessionsRedis)",
        _ => "in-process silo, memory default (Orleans memory grain storage, in-memory deadline index and event log)",
    };

    /// <summary>What a round of creates did: its rate and time, the first and last deadline, and one of the sessions.</summary>
    private sealed record Created(double Rate, double Seconds, DateTimeOffset FirstDeadline, DateTimeOffset LastDeadline, SessionInfo Sample);

    /// <summary>
    /// Creates <paramref name="count"/> sessions, one new user each ("prefix" + i), 64 outstanding, each with the idle
    /// timeout <paramref name="idle"/>(i). Keeps no session (the heap is measured with them dormant) but in
    /// <paramref name="ids"/> when given.
    /// </summary>
    private static async Task<Created> CreateAsync(IClusterClient client, string prefix, int count, Func<int, TimeSpan> idle, string[]? ids = null)
    {
        var gate = new Lock();
        var first = DateTimeOffset.MaxValue;
        var last = DateTimeOffset.MinValue;
        SessionInfo? sample = null;
        var stopwatch = Stopwatch.StartNew();
        var rate = await Loops.ForEachAsync(count, Concurrency, async i =>
        {
            var info = await client.GetGrain<IUserSessionsGrain>(prefix + Key(i)).CreateSessionAsync(new SessionCreateRequest { IdleTimeout = idle(i) });
            ids?[i] = info.SessionId;
            lock (gate)
            {
                first = info.ExpiresAt < first ? info.ExpiresAt : first;
                last = info.ExpiresAt > last ? info.ExpiresAt : last;
                sample ??= info;
            }
        });
        return new Created(rate, stopwatch.Elapsed.TotalSeconds, first, last, sample ?? throw new InvalidOperationException("no session created"));
    }

    /// <summary>
    /// Collects every idle activation (IManagementGrain.ForceActivationCollection(0), as the memory step), then makes sure
    /// every janitor partition is active and started again (Janitors.EnsureStartedAsync), in case the collection took one.
    /// </summary>
    private static async Task CollectAsync(InProcessSilo silo, int partitions)
    {
        await silo.CollectIdleAsync(TimeSpan.Zero);
        await Janitors.EnsureStartedAsync(silo.Client, partitions);
    }

    /// <summary>Activations on the silo by grain type.</summary>
    private static async Task<SortedDictionary<string, int>> TypeCountsAsync(InProcessSilo silo)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var statistic in await silo.Client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics())
        {
            counts[statistic.GrainType] = counts.GetValueOrDefault(statistic.GrainType) + statistic.ActivationCount;
        }
        return counts;
    }

    private static string Describe(SortedDictionary<string, int> counts)
        => string.Join(", ", counts.Where(c => c.Value > 0).Select(c => string.Create(CultureInfo.InvariantCulture, $"{Short(c.Key)} {c.Value}")));

    // Orleans' grain type names carry the class's full name and assembly: keep the class name.
    private static string Short(string grainType)
    {
        var comma = grainType.IndexOf(',', StringComparison.Ordinal);
        var name = comma > 0 ? grainType[..comma] : grainType;
        var dot = name.LastIndexOf('.');
        return dot >= 0 ? name[(dot + 1)..] : name;
    }

    private static string Describe(LatencyHistogram histogram) => histogram.Count == 0
        ? "none"
        : string.Create(CultureInfo.InvariantCulture, $"{histogram.Count} wakes, p50 {histogram.Milliseconds(0.5):F1} p99 {histogram.Milliseconds(0.99):F1} max {histogram.Milliseconds(1):F1} ms");

    /// <summary>The head of every partition of the event log now: what is read after it is what comes next.</summary>
    private static async Task<long[]> HeadsAsync(ISessionEventLog log, int partitions)
    {
        var heads = new long[partitions];
        for (var p = 0; p < partitions; p++)
        {
            heads[p] = (await log.BoundsAsync(p)).Head;
        }
        return heads;
    }

    private sealed record EventCounts(long Read, bool Trimmed, int Sessions, int ExactlyOnce, int MissingExpired, int DuplicateExpired, int MissingExpiring, int DuplicateExpiring, int OtherEnds);

    /// <summary>
    /// Reads the event log after <paramref name="heads"/>, partition after partition, and counts the events of every
    /// session of a user whose id starts with <paramref name="userPrefix"/>: created, expiring, expired, other ends.
    /// </summary>
    private static async Task<EventCounts> CountEventsAsync(ISessionEventLog log, long[] heads, string userPrefix)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var counts = new List<int[]>();
        var read = 0L;
        var trimmed = false;
        for (var p = 0; p < heads.Length; p++)
        {
            var after = heads[p];
            while (true)
            {
                var page = await log.ReadAsync(p, after, 1_000);
                if (page.Count == 0)
                {
                    break;
                }
                trimmed |= page[0].Position > after + 1;
                foreach (var logged in page)
                {
                    after = logged.Position;
                    read++;
                    var session = logged.Event.Session;
                    if (!session.UserId.StartsWith(userPrefix, StringComparison.Ordinal))
                    {
                        continue;
                    }
                    if (!index.TryGetValue(session.SessionId, out var i))
                    {
                        index[session.SessionId] = i = counts.Count;
                        counts.Add(new int[4]);
                    }
                    var slot = logged.Event.Type switch
                    {
                        SessionEventType.Created => 0,
                        SessionEventType.Expiring => 1,
                        SessionEventType.Expired => 2,
                        _ => 3,
                    };
                    counts[i][slot]++;
                }
            }
        }
        return new EventCounts(read, trimmed, counts.Count,
            counts.Count(c => c[0] == 1 && c[1] == 1 && c[2] == 1 && c[3] == 0),
            counts.Count(c => c[2] == 0), counts.Count(c => c[2] > 1), counts.Count(c => c[1] == 0), counts.Count(c => c[1] > 1), counts.Count(c => c[3] > 0));
    }

    /// <summary>Polls <paramref name="condition"/> until it holds (the time that took) or <paramref name="deadline"/> passes (null).</summary>
    private static async Task<TimeSpan?> WaitUntilAsync(Func<bool> condition, DateTimeOffset deadline, int pollMilliseconds = 100)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            if (DateTimeOffset.UtcNow >= deadline)
            {
                return null;
            }
            await Task.Delay(pollMilliseconds);
        }
        return stopwatch.Elapsed;
    }

    /// <summary>
    /// With --hold N (seconds): prints "hold: phase pid" and waits, for dotnet-gcdump collect to take the heap at that
    /// point (the wait counts against the sessions' idle timeout: a diagnosis run, at a scale where that fits).
    /// </summary>
    private static async Task HoldAsync(string phase, TimeSpan hold)
    {
        if (hold > TimeSpan.Zero)
        {
            Console.WriteLine($"hold: {phase} pid {Environment.ProcessId}");
            await Task.Delay(hold);
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a <= b ? a : b;

    private static IBareGrain Bare(IClusterClient client, string key) => client.GetGrain<IBareGrain>(key);

    private static List<Backend> Parse(string list) => [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(b => Enum.Parse<Backend>(b, ignoreCase: true))];

    private static string Name(Backend backend) => backend switch
    {
        Backend.Postgres => "postgres",
        Backend.Redis => "redis",
        _ => "memory",
    };

    private static string Key(int i) => i.ToString(CultureInfo.InvariantCulture);
}
