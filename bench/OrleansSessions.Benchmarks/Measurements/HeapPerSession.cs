using System.Globalization;
using System.Runtime;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Benchmarks.Baselines;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 3: managed heap per idle live session. The heap after a full blocking compacting collection,
/// before and after creating N sessions (one user each, default in-memory storage), divided by N. Baseline: the
/// same measure for the dictionary-plus-lock manager's records. Run in its own process so nothing else shares the heap.
/// </summary>
internal static class HeapPerSession
{
    public static async Task RunAsync(Args args)
    {
        var count = args.Int("sessions", 100_000);
        var concurrency = args.Int("concurrency", 64);
        // With --idle-seconds the sessions get a short IdleTimeout, so the run can also show what the heap holds once
        // the deadlines of the force-collected sessions have passed (their timer entries are due and dropped).
        var idle = args.Get("idle-seconds") is null ? (TimeSpan?)null : args.Seconds("idle-seconds", 30);

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

        var builder = new TestClusterBuilder(1).ConfigureSilo(s => s.AddSessionGrains());
        if (idle is { } idleTimeout)
        {
            builder.AddConfiguration("Sessions:IdleTimeout", idleTimeout.ToString("c", CultureInfo.InvariantCulture));
        }
        await using var cluster = await builder.BuildAndStartAsync();
        var factory = cluster.Primary.Services.GetRequiredService<IGrainFactory>();
        await CreateAsync(factory, "warm", 2_000, concurrency);
        await Task.Delay(500);

        var before = Heap();
        await CreateAsync(factory, "mem", count, concurrency);
        var lastDeadline = DateTime.UtcNow + (idle ?? TimeSpan.Zero);
        await Task.Delay(1000); // let one-way notices and event deliveries drain
        var after = Heap();
        var perSession = (after - before) / (double)count;

        // Breakdown: collect the idle user grains (live sessions keep their activation through their keep-alive expiry timer).
        var collected = await cluster.CollectIdleActivationsAsync(TimeSpan.Zero);
        await Task.Delay(500);
        var afterUsersCollected = Heap();
        var sessionsOnly = (afterUsersCollected - before) / (double)count;
        var live = cluster.ActivationCountOf<ISessionGrain>();

        // What is left without any activation: the stored states (in-memory storage) and the deadline index rows.
        await cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        await Task.Delay(500);
        var storedOnly = (Heap() - before) / (double)count;
        var activationsLeft = cluster.ActivationCountOf<ISessionGrain>();
        var afterDeadlines = "";
        var storedAfterDeadlines = storedOnly;
        if (idle is { } wait)
        {
            var remaining = lastDeadline + TimeSpan.FromSeconds(2) - DateTime.UtcNow;
            if (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining);
            }
            storedAfterDeadlines = (Heap() - before) / (double)count;
            afterDeadlines = string.Create(CultureInfo.InvariantCulture, $"; once their deadlines passed (IdleTimeout {wait.TotalSeconds}s): {storedAfterDeadlines:F0} bytes per session (the difference was pinned by the collected sessions' timer entries)");
        }

        var load = Load.Average();
        ResultSink.Add(new BenchResult
        {
            Target = $"memory.heapPerSession@{count}",
            Value = perSession,
            Unit = "bytes",
            Goal = "<= 512",
            Baseline = "dictionary+lock records",
            BaselineValue = baselinePerSession,
            Pass = perSession <= 512,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"GC heap after full blocking compaction, before/after {count} idle sessions (session + user activation + in-memory stored state, one user per session); heap {before / 1048576.0:F0} -> {after / 1048576.0:F0} MiB; load {load}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"memory.heapPerSession.userGrainsCollected@{count}",
            Value = sessionsOnly,
            Unit = "bytes",
            Goal = "<= 512",
            Baseline = "dictionary+lock records",
            BaselineValue = baselinePerSession,
            Pass = sessionsOnly <= 512,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"after collecting {collected} idle activations (user grains); {live} session activations remain live; stored user state stays in memory storage"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"memory.storedStateAndIndexPerSession@{count}",
            Value = storedOnly,
            Unit = "bytes",
            Note = string.Create(CultureInfo.InvariantCulture,
                $"after force-collecting every activation ({activationsLeft} session activations left): in-memory stored state of session and user + deadline index row + whatever still references the collected activations{afterDeadlines}; so one live session activation costs {sessionsOnly - storedAfterDeadlines:F0} bytes and one idle user activation {perSession - sessionsOnly:F0} bytes"),
        });
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
