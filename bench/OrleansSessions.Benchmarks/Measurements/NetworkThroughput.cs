using System.Diagnostics;
using System.Globalization;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Client;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 2: touch over loopback TCP. This process is the client (50 connections = 50 ClusterClients, each
/// keeping `depth` calls in flight); the silo is this executable in "silo" mode as a separate process (in-memory
/// storage). Baseline: redis-benchmark EXPIRE with the same connections and pipeline depth, against the
/// redis-server that bench/run.sh started. Then latency at a rate-limited half of the peak.
/// </summary>
internal static class NetworkThroughput
{
    public static async Task RunAsync(Args args)
    {
        var connections = args.Int("connections", 50);
        var depths = args.Get("depths", "1,16,64").Split(',').Select(d => int.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        var duration = args.Seconds("seconds", 5);
        var warmup = args.Seconds("warmup-seconds", 2);
        var sessionCount = args.Int("sessions", 10_000);
        var redisPort = args.Int("redis-port", 0);
        var redisSeconds = args.Double("redis-seconds", 4);
        var redisPid = args.Int("redis-pid", 0);

        // Redis first, while the silo is not running: each side gets the machine to itself.
        var redis = new Dictionary<int, RedisResult>();
        if (redisPort > 0)
        {
            await RedisBenchmark.PopulateAsync(redisPort, sessionCount);
            foreach (var depth in depths)
            {
                redis[depth] = await RedisBenchmark.RunExpireAsync(redisPort, connections, depth, redisSeconds, redisPid);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  redis EXPIRE depth {depth}: {redis[depth].Rps:N0}/s p50 {redis[depth].P50:F3} p99 {redis[depth].P99:F3} ms"));
            }
        }

        await using var silo = SiloProcess.Start("silo", ["--Cluster:ClusterId=netbench"]);
        await silo.WaitReadyAsync(TimeSpan.FromSeconds(60));
        var clients = new IClusterClient[connections];
        for (var c = 0; c < connections; c++)
        {
            clients[c] = await new ClientBuilder().UseGateways(silo.Gateway).Configure(o => o.ClusterId = "netbench").ConnectAsync();
        }
        try
        {
            var ids = new string[sessionCount];
            await Parallel.ForAsync(0, sessionCount, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
                ids[i] = (await clients[i % connections].GetGrain<IUserSessionsGrain>("net-user-" + i.ToString(CultureInfo.InvariantCulture)).CreateSessionAsync()).SessionId);
            // Grain references per connection, so a loop never shares a proxy with another connection.
            var grains = new ISessionGrain[connections][];
            for (var c = 0; c < connections; c++)
            {
                grains[c] = ids.Select(id => clients[c].GetGrain<ISessionGrain>(id)).ToArray();
            }

            var peak = 0.0;
            foreach (var depth in depths)
            {
                await ClosedLoopAsync(grains, depth, warmup, record: false);
                var siloCpu0 = CpuTime.Of(silo.Pid);
                var clientCpu0 = CpuTime.Self();
                var (rate, histogram, errors) = await ClosedLoopAsync(grains, depth, duration, record: true);
                var calls = rate * duration.TotalSeconds;
                var siloUs = (CpuTime.Of(silo.Pid) - siloCpu0).TotalMicroseconds / calls;
                var clientUs = (CpuTime.Self() - clientCpu0).TotalMicroseconds / calls;
                peak = Math.Max(peak, rate);
                var load = Load.Average();
                var r = redis.GetValueOrDefault(depth);
                ResultSink.Add(new BenchResult
                {
                    Target = $"net.touch.depth{depth}",
                    Value = rate,
                    Unit = "calls/s",
                    Goal = ">= redis EXPIRE",
                    Baseline = $"redis-benchmark -c {connections} -P {depth} EXPIRE",
                    BaselineValue = r?.Rps,
                    Pass = r is not null && rate >= r.Rps,
                    Note = string.Create(CultureInfo.InvariantCulture,
                        $"{connections} connections x {depth} in flight, {duration.TotalSeconds}s, {errors} errors; CPU per call: silo {siloUs:F2} us, client {clientUs:F2} us (redis-server {r?.ServerUsPerCall:F2} us); latency p50 {histogram.Milliseconds(0.5):F3} p99 {histogram.Milliseconds(0.99):F3} p99.9 {histogram.Milliseconds(0.999):F3} max {histogram.Milliseconds(1):F3} ms; redis p50 {r?.P50:F3} p99 {r?.P99:F3} ms; load {load}"),
                });
                foreach (var (name, q) in new[] { ("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999) })
                {
                    ResultSink.Add(new BenchResult
                    {
                        Target = $"net.touch.depth{depth}.{name}",
                        Value = histogram.Milliseconds(q),
                        Unit = "ms",
                        Baseline = name == "p99.9" ? "redis-benchmark max (no p99.9 in its CSV)" : $"redis-benchmark {name}",
                        BaselineValue = r is null ? null : name switch { "p50" => r.P50, "p99" => r.P99, _ => r.Max },
                    });
                }
            }

            var target = peak / 2;
            await OpenLoopAsync(grains, target, warmup);
            var (achieved, issued, scheduled) = await OpenLoopAsync(grains, target, duration);
            var halfLoad = Load.Average();
            ResultSink.Add(new BenchResult
            {
                Target = "net.touch.halfPeak.p99",
                Value = issued.Milliseconds(0.99),
                Unit = "ms",
                Goal = "<= 1",
                Baseline = "",
                Pass = issued.Milliseconds(0.99) <= 1,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"paced at {target:N0}/s (half of peak {peak:N0}/s) over {connections} connections, achieved {achieved:N0}/s; latency from send: p50 {issued.Milliseconds(0.5):F3} p99 {issued.Milliseconds(0.99):F3} p99.9 {issued.Milliseconds(0.999):F3} max {issued.Milliseconds(1):F3} ms; from schedule (incl. ~1 ms pacer granularity): p50 {scheduled.Milliseconds(0.5):F3} p99 {scheduled.Milliseconds(0.99):F3} ms; load {halfLoad}"),
            });
            ResultSink.Add(new BenchResult { Target = "net.touch.halfPeak.p50", Value = issued.Milliseconds(0.5), Unit = "ms" });
            ResultSink.Add(new BenchResult { Target = "net.touch.halfPeak.p99.9", Value = issued.Milliseconds(0.999), Unit = "ms" });

            // The latency floor of this machine and transport: a light paced load.
            var lowRate = args.Double("low-rate", 5_000);
            var (lowAchieved, low, _) = await OpenLoopAsync(grains, lowRate, duration);
            ResultSink.Add(new BenchResult
            {
                Target = "net.touch.lowRate.p99",
                Value = low.Milliseconds(0.99),
                Unit = "ms",
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"paced at {lowRate:N0}/s over {connections} connections, achieved {lowAchieved:N0}/s; latency from send p50 {low.Milliseconds(0.5):F3} p99 {low.Milliseconds(0.99):F3} p99.9 {low.Milliseconds(0.999):F3} max {low.Milliseconds(1):F3} ms; load {Load.Average()}"),
            });
        }
        finally
        {
            foreach (var client in clients)
            {
                if (client is not null)
                {
                    await client.DisposeAsync();
                }
            }
        }
    }

    private static async Task<(double Rate, LatencyHistogram Histogram, long Errors)> ClosedLoopAsync(ISessionGrain[][] grains, int depth, TimeSpan duration, bool record)
    {
        var histograms = new ThreadLocal<LatencyHistogram>(() => new LatencyHistogram(), trackAllValues: true);
        long total = 0;
        long errors = 0;
        var stop = Stopwatch.StartNew();
        var tasks = new List<Task>(grains.Length * depth);
        for (var c = 0; c < grains.Length; c++)
        {
            var mine = grains[c];
            for (var d = 0; d < depth; d++)
            {
                var start = (c * depth + d) * 7919 % mine.Length;
                tasks.Add(Task.Run(async () =>
                {
                    long count = 0;
                    long failed = 0;
                    var i = start;
                    while (stop.Elapsed < duration)
                    {
                        var t0 = Stopwatch.GetTimestamp();
                        try
                        {
                            await mine[i].TouchAsync();
                        }
                        catch (Exception)
                        {
                            failed++;
                        }
                        if (record)
                        {
                            histograms.Value!.Record((long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds);
                        }
                        count++;
                        if (++i == mine.Length)
                        {
                            i = 0;
                        }
                    }
                    Interlocked.Add(ref total, count);
                    Interlocked.Add(ref errors, failed);
                }));
            }
        }
        await Task.WhenAll(tasks);
        var elapsed = stop.Elapsed.TotalSeconds;
        var merged = new LatencyHistogram();
        foreach (var h in histograms.Values)
        {
            merged.Add(h);
        }
        histograms.Dispose();
        return (total / elapsed, merged, errors);
    }

    /// <summary>
    /// Open loop at <paramref name="rate"/> calls/s: one pacer per connection wakes about every millisecond and sends
    /// every call whose scheduled time has come (at most 64 in flight per connection). Latency from the actual send, and
    /// from the scheduled time (which adds the pacer's own wake-up jitter).
    /// </summary>
    private static async Task<(double Achieved, LatencyHistogram Issued, LatencyHistogram Scheduled)> OpenLoopAsync(ISessionGrain[][] grains, double rate, TimeSpan duration)
    {
        var issuedHistograms = new ThreadLocal<LatencyHistogram>(() => new LatencyHistogram(), trackAllValues: true);
        var scheduledHistograms = new ThreadLocal<LatencyHistogram>(() => new LatencyHistogram(), trackAllValues: true);
        var perConnection = rate / grains.Length;
        long completed = 0;
        var start = Stopwatch.GetTimestamp();
        var tasks = new Task[grains.Length];
        for (var c = 0; c < grains.Length; c++)
        {
            var mine = grains[c];
            var offset = c * 7919 % mine.Length;
            tasks[c] = Task.Run(async () =>
            {
                long sent = 0;
                var inFlight = 0;
                var pending = new List<Task>();
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(1));
                while (true)
                {
                    var elapsed = Stopwatch.GetElapsedTime(start);
                    if (elapsed >= duration)
                    {
                        break;
                    }
                    var due = (long)(elapsed.TotalSeconds * perConnection);
                    while (sent < due && Volatile.Read(ref inFlight) < 64)
                    {
                        var scheduledAt = start + (long)(sent / perConnection * Stopwatch.Frequency);
                        var grain = mine[(int)((offset + sent) % mine.Length)];
                        Interlocked.Increment(ref inFlight);
                        pending.Add(CallAsync(grain, scheduledAt));
                        sent++;
                    }
                    pending.RemoveAll(t => t.IsCompleted);
                    await timer.WaitForNextTickAsync();
                }
                await Task.WhenAll(pending);

                async Task CallAsync(ISessionGrain grain, long scheduledAt)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        await grain.TouchAsync();
                    }
                    catch (Exception)
                    {
                        // counted as a completion; errors show as missing throughput in the closed-loop runs
                    }
                    var t1 = Stopwatch.GetTimestamp();
                    issuedHistograms.Value!.Record((long)((t1 - t0) * 1e9 / Stopwatch.Frequency));
                    scheduledHistograms.Value!.Record((long)((t1 - scheduledAt) * 1e9 / Stopwatch.Frequency));
                    Interlocked.Decrement(ref inFlight);
                    Interlocked.Increment(ref completed);
                }
            });
        }
        await Task.WhenAll(tasks);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var issued = new LatencyHistogram();
        var scheduled = new LatencyHistogram();
        foreach (var h in issuedHistograms.Values)
        {
            issued.Add(h);
        }
        foreach (var h in scheduledHistograms.Values)
        {
            scheduled.Add(h);
        }
        return (completed / seconds, issued, scheduled);
    }
}
