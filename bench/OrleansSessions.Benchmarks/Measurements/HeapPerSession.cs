using System.Globalization;
using System.Runtime;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Benchmarks.Bare;
using OrleansSessions.Benchmarks.Baselines;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 3: managed heap per idle live session, in an in-process silo on the memory default (Orleans' memory
/// grain storage). The heap after full blocking compacting collections, before and after creating N sessions (one
/// user each), divided by N: first with every user activation still there, then after IManagementGrain.
/// ForceActivationCollection(0) has collected the idle activations that may go (the users'; a live session keeps
/// its activation until its deadline), as GrainCollection:CollectionAge does after 15 minutes in production. Floors in
/// the same silo: N bare grains activated by a no-op call, and N bare grains that wrote one field to the same storage.
/// Baseline: the same measure for the dictionary-plus-lock manager's records.
/// </summary>
internal static class HeapPerSession
{
    public static async Task RunAsync(Args args)
    {
        var count = args.Int("sessions", 100_000);
        var concurrency = args.Int("concurrency", 64);
        // --hold N: after each population (none yet, sessions, bare no-op grains, bare grains with state) print
        // "hold: <phase> pid <pid>" and wait N seconds, for dotnet-gcdump collect to take the heap at that point.
        var hold = args.Seconds("hold", 0);

        // Baseline first, on a clean heap.
        var baselineBefore = Heap();
        var manager = new DictionarySessionManager(TimeSpan.FromMinutes(30));
        for (var i = 0; i < count; i++)
        {
            manager.Create("user-" + Key(i));
        }
        var baselinePerSession = (Heap() - baselineBefore) / (double)count;
        GC.KeepAlive(manager);
        manager = null;

        // Activated sessions, however long the creates take (the dormant step measures dormant ones).
        await using var silo = await InProcessSilo.StartAsync(new Dictionary<string, string?> { ["Sessions:DormantAfter"] = "00:00:00" });
        var client = silo.Client;
        var metrics = silo.Services.GetRequiredService<SessionMetrics>();
        await Loops.ForEachAsync(2_000, concurrency, i => client.GetGrain<IUserSessionsGrain>("warm-" + Key(i)).CreateSessionAsync());
        await Loops.ForEachAsync(2_000, concurrency, i => client.GetGrain<IBareGrain>("warm-" + Key(i)).WriteAsync());
        await silo.CollectIdleAsync(TimeSpan.Zero);
        var liveBefore = metrics.ActiveSessionActivations;
        var before = Heap();
        await HoldAsync("before", hold);
        var createRate = await Loops.ForEachAsync(count, concurrency, i => client.GetGrain<IUserSessionsGrain>("mem-" + Key(i)).CreateSessionAsync());
        await DrainAsync(client);
        var withUsers = (Heap() - before) / (double)count;
        var activationsWithUsers = await silo.ActivationCountAsync();
        await silo.CollectIdleAsync(TimeSpan.Zero);
        await DrainAsync(client);
        var afterCollection = Heap();
        var perSession = (afterCollection - before) / (double)count;
        var activationsAfter = await silo.ActivationCountAsync();
        var liveSessions = metrics.ActiveSessionActivations - liveBefore;
        await HoldAsync("sessions", hold);
        var load = Load.Average();

        // Floors: bare grains in the same silo.
        var noopBefore = Heap();
        await Loops.ForEachAsync(count, concurrency, i => client.GetGrain<IBareGrain>("noop-" + Key(i)).PingAsync());
        var bareNoop = (Heap() - noopBefore) / (double)count;
        await HoldAsync("bare-noop", hold);
        var writeBefore = Heap();
        await Loops.ForEachAsync(count, concurrency, i => client.GetGrain<IBareGrain>("write-" + Key(i)).WriteAsync());
        var bareWrite = (Heap() - writeBefore) / (double)count;
        await HoldAsync("bare-write", hold);

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
                $"in-process silo, Orleans memory grain storage: {count} idle live sessions (created at {createRate:N0}/s), {liveSessions} of them with their activation after ForceActivationCollection(0) ({activationsWithUsers} activations before it, {activationsAfter} after): session activation + its timers + stored session and user state in the memory storage grains + deadline index entry; {withUsers:F0} bytes while the user activations were still there; floors in the same silo: bare grain activation {bareNoop:F0} B, bare grain activation with one field stored {bareWrite:F0} B; load {load}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"memory.heapPerSession.withUsers@{count}",
            Value = withUsers,
            Unit = "bytes",
            Baseline = "dictionary+lock records",
            BaselineValue = baselinePerSession,
            Note = "the same sessions before the idle user activations were collected (a user activation per session, as in the first 15 minutes)",
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"memory.bare.activation@{count}",
            Value = bareNoop,
            Unit = "bytes",
            Note = "floor: per bare grain activated by a no-op call (its state declared, never written), same silo",
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"memory.bare.activationWithState@{count}",
            Value = bareWrite,
            Unit = "bytes",
            Note = "floor: per bare grain activation that wrote one field to the memory grain storage \"OrleansSessions\", same silo",
        });
    }

    /// <summary>Lets one-way notices and event deliveries land: a few round trips through user grains.</summary>
    private static async Task DrainAsync(IClusterClient client)
    {
        for (var i = 0; i < 3; i++)
        {
            await client.GetGrain<IUserSessionsGrain>("drain-" + Key(i)).GetActiveSessionsAsync();
        }
        await Task.Delay(500);
    }

    private static async Task HoldAsync(string phase, TimeSpan hold)
    {
        if (hold > TimeSpan.Zero)
        {
            Console.WriteLine($"hold: {phase} pid {Environment.ProcessId}");
            await Task.Delay(hold);
        }
    }

    private static string Key(int i) => i.ToString(CultureInfo.InvariantCulture);

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
