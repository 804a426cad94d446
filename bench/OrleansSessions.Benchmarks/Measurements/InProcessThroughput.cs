using System.Diagnostics;
using System.Globalization;
using OrleansSessions.Benchmarks.Bare;
using OrleansSessions.Benchmarks.Baselines;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 1: touch through the client hosted in the silo (no network), beside the bare Orleans floor measured
/// in the same silo with the same load: a no-op call and a call that writes one field through the same memory grain
/// storage. Same number of keys (live grains), same number of outstanding calls (default 64), same loop code.
/// Also create throughput and the seed's dictionary-plus-lock manager (information).
/// </summary>
internal static class InProcessThroughput
{
    public static async Task RunAsync(Args args)
    {
        var sessions = args.Int("sessions", 10_000);
        var creates = args.Int("creates", 20_000);
        var depths = args.Get("depths", "64").Split(',').Select(d => int.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        var duration = args.Seconds("seconds", 5);
        var warmup = args.Seconds("warmup-seconds", 2);
        var workers = args.Int("workers", 4);
        // --only noop|touch|write|alternate: see ProfileAsync.
        var only = args.Get("only");

        await using var silo = await InProcessSilo.StartAsync();
        var client = silo.Client;

        // Create throughput: 64 concurrent creators, one user per session.
        await Loops.ForEachAsync(Math.Min(creates / 10, 2_000), 64, i => client.GetGrain<IUserSessionsGrain>("warm-user-" + Key(i)).CreateSessionAsync());
        var createRate = await Loops.ForEachAsync(creates, 64, i => client.GetGrain<IUserSessionsGrain>("create-user-" + Key(i)).CreateSessionAsync());

        var ids = new string[sessions];
        await Loops.ForEachAsync(sessions, 64, async i => ids[i] = (await client.GetGrain<IUserSessionsGrain>("touch-user-" + Key(i)).CreateSessionAsync()).SessionId);
        var touchGrains = ids.Select(id => client.GetGrain<ISessionGrain>(id)).ToArray();
        var bare = Enumerable.Range(0, sessions).Select(i => client.GetGrain<IBareGrain>("bare-" + Key(i))).ToArray();
        await Loops.ForEachAsync(sessions, 64, i => bare[i].WriteAsync()); // activated, state stored once
        var activations = await silo.ActivationCountAsync();

        Func<int, ValueTask<int>> noop = i => new ValueTask<int>(bare[i].PingAsync());
        Func<int, ValueTask<int>> write = i => new ValueTask<int>(bare[i].WriteAsync());
        Func<int, ValueTask<SessionInfo>> touch = i => touchGrains[i].TouchAsync();

        if (only is not null)
        {
            var loops = new Dictionary<string, Func<TimeSpan, bool, Task<LoopResult>>>
            {
                ["noop"] = (d, record) => Loops.ClosedAsync(depths[0], sessions, d, noop, record),
                ["touch"] = (d, record) => Loops.ClosedAsync(depths[0], sessions, d, touch, record),
                ["write"] = (d, record) => Loops.ClosedAsync(depths[0], sessions, d, write, record),
            };
            await ProfileAsync(only, depths[0], sessions, duration, warmup, args.Int("rounds", 10), loops, args.Get("first", "noop"), args.Get("second", "touch"));
            return;
        }

        var load = Load.Average();
        LoopResult? scoredTouch = null;
        foreach (var depth in depths)
        {
            // Alternating, each after its own warm-up (tiered JIT, PGO): floor, product, floor with storage.
            await Loops.ClosedAsync(depth, sessions, warmup, noop, record: false);
            var noopResult = await Loops.ClosedAsync(depth, sessions, duration, noop);
            await Loops.ClosedAsync(depth, sessions, warmup, touch, record: false);
            var touchResult = await Loops.ClosedAsync(depth, sessions, duration, touch);
            await Loops.ClosedAsync(depth, sessions, warmup, write, record: false);
            var writeResult = await Loops.ClosedAsync(depth, sessions, duration, write);
            load = Load.Average();
            var d = depth.ToString(CultureInfo.InvariantCulture);
            var scored = depth == 64;
            if (scored)
            {
                scoredTouch = touchResult;
            }
            ResultSink.Add(new BenchResult
            {
                Target = scored ? "inproc.touch" : $"inproc.touch.depth{d}",
                Value = touchResult.Rate,
                Unit = "calls/s",
                Goal = scored ? ">= 0.9 x bare no-op" : "",
                Baseline = $"bare Orleans no-op call, hosted client, {d} outstanding",
                BaselineValue = noopResult.Rate,
                Pass = scored ? touchResult.Rate >= 0.9 * noopResult.Rate : null,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"hosted client (IClusterClient of the in-process silo), {d} outstanding calls over {sessions} live sessions, {duration.TotalSeconds}s after {warmup.TotalSeconds}s warm-up, Orleans memory grain storage; {touchResult.Rate / noopResult.Rate:P0} of the bare no-op, {touchResult.Rate / writeResult.Rate:P0} of the bare write; {activations} activations in the silo; {Describe(touchResult)}; bare no-op: {Describe(noopResult)}; load {load}"),
            });
            ResultSink.Add(new BenchResult
            {
                Target = $"inproc.bare.noop.depth{d}",
                Value = noopResult.Rate,
                Unit = "calls/s",
                Note = string.Create(CultureInfo.InvariantCulture, $"floor: IBareGrain.PingAsync (Task<int>, returns 0) on {sessions} grains, same silo and loop; {Describe(noopResult)}"),
            });
            ResultSink.Add(new BenchResult
            {
                Target = $"inproc.bare.write.depth{d}",
                Value = writeResult.Rate,
                Unit = "calls/s",
                Note = string.Create(CultureInfo.InvariantCulture, $"floor: IBareGrain.WriteAsync (sets one field, awaits WriteStateAsync on the memory grain storage \"OrleansSessions\") on {sessions} grains; {Describe(writeResult)}"),
            });
        }

        if (scoredTouch is not null)
        {
            // The same touch with Sessions:PersistTouches=true (a memory-storage write before each answer), in a
            // second in-process silo of this run: what the write costs.
            await silo.DisposeAsync();
            var persisted = await PersistedTouchAsync(sessions, duration, warmup);
            ResultSink.Add(new BenchResult
            {
                Target = "inproc.touch.persisted",
                Value = persisted.Rate,
                Unit = "calls/s",
                Baseline = "inproc.touch (Sessions:PersistTouches=false, the silo host's memory default)",
                BaselineValue = scoredTouch.Rate,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"Sessions:PersistTouches=true: each touch awaits WriteStateAsync on the memory grain storage before it answers; hosted client, 64 outstanding calls over {sessions} live sessions; {Describe(persisted)}"),
            });
        }

        var manager = new DictionarySessionManager(TimeSpan.FromMinutes(30));
        var baselineCreate = BaselineCreates(manager, creates, workers);
        var baselineIds = Enumerable.Range(0, sessions).Select(i => manager.Create("u" + Key(i))).ToArray();
        BaselineTouches(manager, baselineIds, workers, TimeSpan.FromSeconds(1));
        var baselineTouch = BaselineTouches(manager, baselineIds, workers, duration);
        ResultSink.Add(new BenchResult
        {
            Target = "inproc.create",
            Value = createRate,
            Unit = "sessions/s",
            Baseline = "dictionary+lock create",
            BaselineValue = baselineCreate,
            Note = string.Create(CultureInfo.InvariantCulture, $"{creates} sessions via IUserSessionsGrain.CreateSessionAsync, 64 concurrent, one user each (user activation, session activation, two memory-storage writes, deadline index, created event); dictionary+lock extend_timeout with {workers} threads: {baselineTouch:N0}/s; load {load}"),
        });
    }

    /// <summary>
    /// --only noop|touch|write: that loop alone after its warm-up, nothing else in the process (for a profiler attached
    /// once "measuring" is printed). --only alternate: --rounds rounds of the --first loop (default noop) then the
    /// --second (default touch), each for --seconds, after both warm-ups; per round and median, the rate and the process
    /// CPU time per call: on a shared machine the CPU per call moves far less with other load than the rate does.
    /// </summary>
    private static async Task ProfileAsync(string only, int depth, int sessions, TimeSpan duration, TimeSpan warmup, int rounds,
        Dictionary<string, Func<TimeSpan, bool, Task<LoopResult>>> loops, string first, string second)
    {
        if (only != "alternate")
        {
            var alone = loops.GetValueOrDefault(only) ?? throw new ArgumentException($"--only is alternate or one of {string.Join(", ", loops.Keys)}.");
            Console.WriteLine($"{only}: warming up");
            await alone(warmup, false);
            Console.WriteLine($"{only}: measuring");
            var (result, cpu) = await MeasureAsync(alone);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{only}: {Describe(result)}, {cpu:F2} us CPU per call; load {Load.Average()}"));
            return;
        }

        var a = loops[first];
        var b = loops[second];
        await a(warmup, false);
        await b(warmup, false);
        var ratios = new List<double>();
        var aCpu = new List<double>();
        var bCpu = new List<double>();
        for (var r = 0; r < rounds; r++)
        {
            var (ra, ca) = await MeasureAsync(a);
            var (rb, cb) = await MeasureAsync(b);
            ratios.Add(rb.Rate / ra.Rate);
            aCpu.Add(ca);
            bCpu.Add(cb);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {r}: {first} {ra.Rate:N0}/s {ca:F2} us CPU/call, {second} {rb.Rate:N0}/s {cb:F2} us CPU/call, {second}/{first} {rb.Rate / ra.Rate:P0}; load {Load.Average()}"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"alternate: {second}/{first} median {Median(ratios):P1} (range {ratios.Min():P0}-{ratios.Max():P0}), CPU per call median {first} {Median(aCpu):F2} us, {second} {Median(bCpu):F2} us"));

        async Task<(LoopResult Result, double CpuMicroseconds)> MeasureAsync(Func<TimeSpan, bool, Task<LoopResult>> loop)
        {
            var cpu = CpuTime.Self();
            var result = await loop(duration, true);
            return (result, (CpuTime.Self() - cpu).TotalMicroseconds / (result.Rate * duration.TotalSeconds));
        }

        static double Median(List<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }

    private static async Task<LoopResult> PersistedTouchAsync(int sessions, TimeSpan duration, TimeSpan warmup)
    {
        await using var silo = await InProcessSilo.StartAsync(new Dictionary<string, string?> { ["Sessions:PersistTouches"] = "true" }, clusterId: "bench-persisted");
        var client = silo.Client;
        var ids = new string[sessions];
        await Loops.ForEachAsync(sessions, 64, async i => ids[i] = (await client.GetGrain<IUserSessionsGrain>("persisted-user-" + Key(i)).CreateSessionAsync()).SessionId);
        var grains = ids.Select(id => client.GetGrain<ISessionGrain>(id)).ToArray();
        Func<int, ValueTask<SessionInfo>> touch = i => grains[i].TouchAsync();
        await Loops.ClosedAsync(64, sessions, warmup, touch, record: false);
        return await Loops.ClosedAsync(64, sessions, duration, touch);
    }

    private static string Describe(LoopResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Rate:N0}/s, p50 {r.Histogram.Milliseconds(0.5):F3} p99 {r.Histogram.Milliseconds(0.99):F3} max {r.Histogram.Milliseconds(1):F1} ms, {r.Errors} errors, {r.BytesPerCall:F0} B allocated per call, {r.Gen0PerSecond:F1} gen0 GCs/s");

    private static string Key(int i) => i.ToString(CultureInfo.InvariantCulture);

    private static double BaselineCreates(DictionarySessionManager manager, int count, int workers)
    {
        var next = -1;
        var stopwatch = Stopwatch.StartNew();
        RunThreads(workers, _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                manager.Create("create-user-" + i.ToString(CultureInfo.InvariantCulture));
            }
        });
        return count / stopwatch.Elapsed.TotalSeconds;
    }

    private static double BaselineTouches(DictionarySessionManager manager, string[] ids, int workers, TimeSpan duration)
    {
        long total = 0;
        var stopwatch = Stopwatch.StartNew();
        RunThreads(workers, w =>
        {
            long count = 0;
            var i = w;
            while (stopwatch.Elapsed < duration)
            {
                for (var k = 0; k < 1000; k++)
                {
                    manager.ExtendTimeout(ids[i]);
                    i += workers;
                    if (i >= ids.Length)
                    {
                        i -= ids.Length;
                    }
                }
                count += 1000;
            }
            Interlocked.Add(ref total, count);
        });
        return total / stopwatch.Elapsed.TotalSeconds;
    }

    internal static void RunThreads(int count, Action<int> body)
    {
        var threads = new Thread[count];
        for (var t = 0; t < count; t++)
        {
            var index = t;
            threads[t] = new Thread(() => body(index)) { IsBackground = true };
            threads[t].Start();
        }
        foreach (var thread in threads)
        {
            thread.Join();
        }
    }
}
