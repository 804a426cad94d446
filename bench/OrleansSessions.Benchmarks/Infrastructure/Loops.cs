using System.Diagnostics;

namespace OrleansSessions.Benchmarks.Infrastructure;

internal sealed record LoopResult(double Rate, LatencyHistogram Histogram, long Errors, double BytesPerCall, double Gen0PerSecond);

/// <summary>
/// The load shapes every figure uses, the same for the product's calls and the bare floor's: a closed loop of N
/// outstanding calls (N loops, each awaiting one call at a time over the keys), and an open loop at a fixed rate.
/// </summary>
internal static class Loops
{
    /// <summary>
    /// <paramref name="outstanding"/> loops, each calling <paramref name="call"/>(i) and awaiting it, for <paramref name="duration"/>;
    /// loop l starts at key l * 7919 and walks the keys in order. Latency of every call (when <paramref name="record"/>).
    /// </summary>
    public static async Task<LoopResult> ClosedAsync<T>(int outstanding, int keys, TimeSpan duration, Func<int, ValueTask<T>> call, bool record = true)
    {
        var histograms = new ThreadLocal<LatencyHistogram>(() => new LatencyHistogram(), trackAllValues: true);
        long total = 0;
        long errors = 0;
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var gen0 = GC.CollectionCount(0);
        var stop = Stopwatch.StartNew();
        var tasks = new Task[outstanding];
        for (var l = 0; l < outstanding; l++)
        {
            var start = (int)((long)l * 7919 % keys);
            tasks[l] = Task.Run(async () =>
            {
                long count = 0;
                long failed = 0;
                var i = start;
                while (stop.Elapsed < duration)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        await call(i);
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
                    if (++i == keys)
                    {
                        i = 0;
                    }
                }
                Interlocked.Add(ref total, count);
                Interlocked.Add(ref errors, failed);
            });
        }
        await Task.WhenAll(tasks);
        var elapsed = stop.Elapsed.TotalSeconds;
        var bytes = GC.GetTotalAllocatedBytes(precise: false) - allocated;
        var gen0s = GC.CollectionCount(0) - gen0;
        var merged = new LatencyHistogram();
        foreach (var h in histograms.Values)
        {
            merged.Add(h);
        }
        histograms.Dispose();
        return new LoopResult(total / elapsed, merged, errors, total == 0 ? double.NaN : bytes / (double)total, gen0s / elapsed);
    }

    /// <summary>
    /// Open loop at <paramref name="rate"/> calls/s: <paramref name="pacers"/> pacers wake about every millisecond and send
    /// every call whose scheduled time has come (at most 64 in flight per pacer). Latency from the actual send, and from
    /// the scheduled time (which adds the pacer's own wake-up jitter).
    /// </summary>
    public static async Task<(double Achieved, LatencyHistogram Issued, LatencyHistogram Scheduled)> OpenAsync<T>(int pacers, int keys, double rate, TimeSpan duration, Func<int, ValueTask<T>> call)
    {
        var issuedHistograms = new ThreadLocal<LatencyHistogram>(() => new LatencyHistogram(), trackAllValues: true);
        var scheduledHistograms = new ThreadLocal<LatencyHistogram>(() => new LatencyHistogram(), trackAllValues: true);
        var perPacer = rate / pacers;
        long completed = 0;
        var start = Stopwatch.GetTimestamp();
        var tasks = new Task[pacers];
        for (var c = 0; c < pacers; c++)
        {
            var offset = (int)((long)c * 7919 % keys);
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
                    var due = (long)(elapsed.TotalSeconds * perPacer);
                    while (sent < due && Volatile.Read(ref inFlight) < 64)
                    {
                        var scheduledAt = start + (long)(sent / perPacer * Stopwatch.Frequency);
                        var key = (int)((offset + sent) % keys);
                        Interlocked.Increment(ref inFlight);
                        pending.Add(CallAsync(key, scheduledAt));
                        sent++;
                    }
                    pending.RemoveAll(t => t.IsCompleted);
                    await timer.WaitForNextTickAsync();
                }
                await Task.WhenAll(pending);

                async Task CallAsync(int key, long scheduledAt)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        await call(key);
                    }
                    catch (Exception)
                    {
                        // counted as a completion; errors show in the closed-loop runs
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
        issuedHistograms.Dispose();
        scheduledHistograms.Dispose();
        return (completed / seconds, issued, scheduled);
    }

    /// <summary>Runs <paramref name="count"/> calls with at most <paramref name="concurrency"/> at once; returns calls per second.</summary>
    public static async Task<double> ForEachAsync(int count, int concurrency, Func<int, Task> call)
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
                    await call(i);
                }
            });
        }
        await Task.WhenAll(tasks);
        return count / stopwatch.Elapsed.TotalSeconds;
    }
}
