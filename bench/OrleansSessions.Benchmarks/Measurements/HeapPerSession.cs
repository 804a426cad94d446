using System.Globalization;
using System.Runtime;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Benchmarks.Baselines;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 3: managed heap per idle live session. The heap after a full blocking compacting collection, before
/// and after creating N sessions (one user each), divided by N. Three clusters in turn, in this process:
/// (1) Sessions:DormantAfter 0, every session keeps its activation (the figure before dormancy, information);
/// (2) the embedded in-memory storage with dormancy: once every session is dormant and the idle user activations
/// are collected (as GrainCollection:CollectionAge does), the heap holds the stored states, the deadline index and
/// the dormant table; (3) the same on PostgreSQL storage and deadline index: what the silo itself holds per idle
/// session when its state is durable. DormantAfter is shortened (--dormant-seconds) so the run need not wait the
/// default 2 minutes. Baseline: the same measure for the dictionary-plus-lock manager's records.
/// </summary>
internal static class HeapPerSession
{
    public static async Task RunAsync(Args args)
    {
        var count = args.Int("sessions", 100_000);
        var concurrency = args.Int("concurrency", 64);
        var dormantAfter = args.Seconds("dormant-seconds", 5);
        var server = args.Get("pg");

        // Baseline first, on a clean heap.
        var baselineBefore = Heap();
        var manager = new DictionarySessionManager(TimeSpan.FromMinutes(30));
        for (var i = 0; i < count; i++)
        {
            manager.Create("user-" + i.ToString(CultureInfo.InvariantCulture));
        }
        var baselineAfter = Heap();
        var baselinePerSession = (baselineAfter - baselineBefore) / (double)count;
        GC.KeepAlive(manager);
        manager = null;
        var load = Load.Average();

        // (1) Every live session activated.
        double activated;
        double activatedUsersCollected;
        await using (var cluster = await StartAsync(TimeSpan.Zero, null))
        {
            var (before, factory) = await WarmAsync(cluster, concurrency);
            await CreateAsync(factory, "act", count, concurrency);
            await DrainAsync(cluster);
            activated = (Heap() - before) / (double)count;
            await cluster.CollectIdleActivationsAsync(TimeSpan.Zero);
            activatedUsersCollected = (Heap() - before) / (double)count;
        }
        ResultSink.Add(new BenchResult
        {
            Target = $"memory.heapPerSession.activated@{count}",
            Value = activated,
            Unit = "bytes",
            Baseline = "dictionary+lock records",
            BaselineValue = baselinePerSession,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"Sessions:DormantAfter 0: session + user activation + in-memory stored state + deadline index row per session; {activatedUsersCollected:F0} bytes once the idle user activations are collected; load {load}"),
        });

        // (2) Dormant, in-memory storage.
        await MeasureDormantAsync(count, concurrency, dormantAfter, null, "", baselinePerSession, (rate, dormant, waited, collected, withUsers) => string.Create(CultureInfo.InvariantCulture,
            $"embedded in-memory storage: {dormant} sessions dormant {waited:F1}s after the last create (Sessions:DormantAfter {dormantAfter.TotalSeconds}s), {collected} idle user activations collected; the heap holds the stored state of session and user, the deadline index row and the dormant table entry; {withUsers:F0} bytes while the user activations were still there"));

        // (3) Dormant, PostgreSQL storage and deadline index.
        if (server is not null)
        {
            var connectionString = await PostgresDatabase.RecreateAsync(server, "orleanssessions_bench_memory", args.Int("pool", 20));
            await MeasureDormantAsync(count, concurrency, dormantAfter, connectionString, ".postgres", baselinePerSession, (rate, dormant, waited, collected, withUsers) => string.Create(CultureInfo.InvariantCulture,
                $"PostgreSQL storage and deadline index (created at {rate:N0}/s): {dormant} sessions dormant {waited:F1}s after the last create, {collected} idle user activations collected; the silo's heap holds the dormant table entry (session id and wake-up time); {withUsers:F0} bytes while the user activations were still there"));
        }
    }

    /// <summary>Creates <paramref name="count"/> sessions, waits until all are dormant, collects the idle user activations and reports the heap per session.</summary>
    private static async Task MeasureDormantAsync(
        int count, int concurrency, TimeSpan dormantAfter, string? postgres, string suffix, double baselinePerSession,
        Func<double, long, double, int, double, string> note)
    {
        await using var cluster = await StartAsync(dormantAfter, postgres);
        var (before, factory) = await WarmAsync(cluster, concurrency);
        var created = System.Diagnostics.Stopwatch.StartNew();
        await CreateAsync(factory, "dormant", count, concurrency);
        var rate = count / created.Elapsed.TotalSeconds;
        var (waited, withUsers, dormant) = await DormantAsync(cluster, count, before);
        var collected = await cluster.CollectIdleActivationsAsync(TimeSpan.Zero);
        var perSession = (Heap() - before) / (double)count;
        ResultSink.Add(new BenchResult
        {
            Target = $"memory.heapPerSession{suffix}@{count}",
            Value = perSession,
            Unit = "bytes",
            Goal = "<= 512",
            Baseline = "dictionary+lock records",
            BaselineValue = baselinePerSession,
            Pass = perSession <= 512,
            Note = note(rate, dormant, waited, collected, withUsers),
        });
    }

    private static async Task<TestCluster> StartAsync(TimeSpan dormantAfter, string? postgres)
    {
        var builder = new TestClusterBuilder(1).ConfigureSilo(s =>
        {
            s.AddSessionGrains();
            if (postgres is not null)
            {
                s.UsePostgreSql(postgres, "memorybench");
            }
        });
        builder.AddConfiguration("Sessions:DormantAfter", dormantAfter.ToString("c", CultureInfo.InvariantCulture));
        return await builder.BuildAndStartAsync();
    }

    private static async Task<(long Before, IGrainFactory Factory)> WarmAsync(TestCluster cluster, int concurrency)
    {
        var factory = cluster.Primary.Services.GetRequiredService<IGrainFactory>();
        await CreateAsync(factory, "warm", 2_000, concurrency);
        await DrainAsync(cluster);
        await cluster.CollectIdleActivationsAsync(TimeSpan.Zero);
        return (Heap(), factory);
    }

    /// <summary>Waits (with a deadline) until every session is dormant; returns the wait, the heap per session then, and the dormant count.</summary>
    private static async Task<(double Seconds, double PerSession, long Dormant)> DormantAsync(TestCluster cluster, int count, long before)
    {
        var metrics = cluster.Primary.Services.GetRequiredService<SessionMetrics>();
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        // Every session activation gone (the warm-up's sessions are dormant too).
        await TestCluster.WaitUntilAsync(() => Task.FromResult(metrics.DormantSessions >= count && metrics.ActiveSessionActivations == 0), TimeSpan.FromSeconds(120 + count / 2_000));
        var seconds = stopwatch.Elapsed.TotalSeconds;
        await DrainAsync(cluster);
        return (seconds, (Heap() - before) / (double)count, metrics.DormantSessions);
    }

    /// <summary>Lets one-way notices and event deliveries finish: a round trip to every user grain would be the exact test; a ping through the silo is enough once the creates are acknowledged.</summary>
    private static async Task DrainAsync(TestCluster cluster)
    {
        var factory = cluster.Primary.Services.GetRequiredService<IGrainFactory>();
        for (var i = 0; i < 3; i++)
        {
            await factory.GetGrain<IUserSessionsGrain>("drain-" + i.ToString(CultureInfo.InvariantCulture)).GetActiveSessionsAsync();
        }
    }

    private static async Task CreateAsync(IGrainFactory factory, string prefix, int count, int concurrency)
    {
        var next = -1;
        var tasks = new Task[concurrency];
        for (var t = 0; t < concurrency; t++)
        {
            tasks[t] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    await factory.GetGrain<IUserSessionsGrain>(prefix + "-user-" + i.ToString(CultureInfo.InvariantCulture)).CreateSessionAsync();
                }
            });
        }
        await Task.WhenAll(tasks);
    }

    internal static long Heap()
    {
        for (var i = 0; i < 3; i++)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
