using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Benchmarks.Baselines;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 1: touch and create throughput through the client hosted in the silo (no network), against the
/// seed's dictionary-plus-lock manager driven by the same number of threads.
/// </summary>
internal static class InProcessThroughput
{
    public static async Task RunAsync(Args args)
    {
        var sessions = args.Int("sessions", 10_000);
        var creates = args.Int("creates", 100_000);
        var workers = args.Int("workers", 4);
        var duration = args.Seconds("seconds", 5);

        await using var cluster = await new TestClusterBuilder(1)
            .ConfigureSilo(s => s.AddSessionGrains())
            .BuildAndStartAsync();
        var factory = cluster.Primary.Services.GetRequiredService<IGrainFactory>();

        // Create throughput: `workers * 16` concurrent creators, one user per session.
        var createRate = await MeasureCreatesAsync(factory, "warm", Math.Min(creates / 10, 10_000), workers * 16);
        createRate = await MeasureCreatesAsync(factory, "bench", creates, workers * 16);

        var ids = new string[sessions];
        for (var i = 0; i < sessions; i++)
        {
            ids[i] = (await factory.GetGrain<IUserSessionsGrain>($"touch-user-{i}").CreateSessionAsync()).SessionId;
        }
        var grains = ids.Select(id => factory.GetGrain<ISessionGrain>(id)).ToArray();
        await TouchLoopsAsync(grains, workers, TimeSpan.FromSeconds(2)); // warm-up: tiered JIT, PGO
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var gen0Before = GC.CollectionCount(0);
        var touchStopwatch = Stopwatch.StartNew();
        var touchRate = await TouchLoopsAsync(grains, workers, duration);
        var touchCalls = touchRate * touchStopwatch.Elapsed.TotalSeconds;
        var bytesPerTouch = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / touchCalls;
        var gen0PerSecond = (GC.CollectionCount(0) - gen0Before) / touchStopwatch.Elapsed.TotalSeconds;

        var manager = new DictionarySessionManager(TimeSpan.FromMinutes(30));
        var baselineCreate = BaselineCreates(manager, creates, workers);
        var baselineIds = Enumerable.Range(0, sessions).Select(i => manager.Create($"u{i}")).ToArray();
        BaselineTouches(manager, baselineIds, workers, TimeSpan.FromSeconds(1));
        var baselineTouch = BaselineTouches(manager, baselineIds, workers, duration);

        var load = Load.Average();
        var live = cluster.ActivationCountOf<ISessionGrain>();
        ResultSink.Add(new BenchResult
        {
            Target = "inproc.touch",
            Value = touchRate,
            Unit = "calls/s",
            Goal = ">= 1,000,000",
            Baseline = "dictionary+lock extend_timeout",
            BaselineValue = baselineTouch,
            Pass = touchRate >= 1_000_000,
            Note = string.Create(CultureInfo.InvariantCulture, $"{workers} workers over {sessions} live sessions ({live} session activations in the silo, including those of the create run), {duration.TotalSeconds}s, memory storage; {bytesPerTouch:F0} bytes allocated per touch, {gen0PerSecond:F0} gen0 GCs/s; load {load}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = "inproc.create",
            Value = createRate,
            Unit = "sessions/s",
            Baseline = "dictionary+lock create",
            BaselineValue = baselineCreate,
            Note = string.Create(CultureInfo.InvariantCulture, $"{creates} sessions via IUserSessionsGrain.CreateSessionAsync, {workers * 16} concurrent, one user each; load {load}"),
        });
    }

    private static async Task<double> MeasureCreatesAsync(IGrainFactory factory, string prefix, int count, int concurrency)
    {
        var next = -1;
        var stopwatch = Stopwatch.StartNew();
        var tasks = new Task[concurrency];
        for (var t = 0; t < concurrency; t++)
        {
            tasks[t] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    await factory.GetGrain<IUserSessionsGrain>($"{prefix}-user-{i}").CreateSessionAsync();
                }
            });
        }
        await Task.WhenAll(tasks);
        return count / stopwatch.Elapsed.TotalSeconds;
    }

    private static async Task<double> TouchLoopsAsync(ISessionGrain[] grains, int workers, TimeSpan duration)
    {
        long total = 0;
        var stopwatch = Stopwatch.StartNew();
        var tasks = new Task[workers];
        for (var w = 0; w < workers; w++)
        {
            var start = w;
            tasks[w] = Task.Run(async () =>
            {
                long count = 0;
                var i = start;
                while (stopwatch.Elapsed < duration)
                {
                    for (var k = 0; k < 1000; k++)
                    {
                        await grains[i].TouchAsync();
                        i += workers;
                        if (i >= grains.Length)
                        {
                            i -= grains.Length;
                        }
                    }
                    count += 1000;
                }
                Interlocked.Add(ref total, count);
            });
        }
        await Task.WhenAll(tasks);
        return total / stopwatch.Elapsed.TotalSeconds;
    }

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
