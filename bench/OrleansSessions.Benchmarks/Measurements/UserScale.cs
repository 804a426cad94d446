using System.Diagnostics;
using System.Globalization;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Heavy users: an in-process silo on the memory default (Sessions:MaxPerUser 0, unlimited). (1) Create p50 for one
/// user at 10 and at N live sessions (one create at a time, each answered and its session closed before the next); the figure is the ratio, the
/// floor the same creates of a user at 10 live (measured before and after the heavy user's). (2) A close-all of M live sessions of one user, while another user's session
/// is asked IsActive about once a millisecond, one call at a time: that call's p99 during the close-all beside the same loop's p99
/// before it (the floor: the silo idle).
/// </summary>
internal static class UserScale
{
    // The probe asks about once a millisecond: a caller among others, not a loop that takes a core from the close-all.
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(1);

    public static async Task RunAsync(Args args)
    {
        var live = args.Int("live", 10_000);
        var closeAll = args.Int("close-all", 50_000);
        var samples = args.Int("samples", 200);
        await using var silo = await InProcessSilo.StartAsync(new Dictionary<string, string?>
        {
            ["Sessions:IdleTimeout"] = "02:00:00",
            ["Sessions:AbsoluteTimeout"] = "08:00:00",
        });
        var client = silo.Client;

        // Warm-up (JIT, first activations) on a user of its own.
        await CreateLatencyAsync(client, client.GetGrain<IUserSessionsGrain>("scale-warm"), samples);

        // (1) Create latency at 10 live and at `live` live, for one user.
        var small = client.GetGrain<IUserSessionsGrain>("scale-small");
        for (var i = 0; i < 10; i++)
        {
            await small.CreateSessionAsync();
        }
        var smallHist = await CreateLatencyAsync(client, small, samples);
        var heavy = client.GetGrain<IUserSessionsGrain>("scale-heavy");
        var fill = Stopwatch.StartNew();
        await Loops.ForEachAsync(live, 16, _ => heavy.CreateSessionAsync());
        var fillSeconds = fill.Elapsed.TotalSeconds;
        var heavyHist = await CreateLatencyAsync(client, heavy, samples);
        // The small user again, so the floor is not only the run's first minute.
        smallHist.Add(await CreateLatencyAsync(client, small, samples));
        var smallP50 = smallHist.Milliseconds(0.50);
        var heavyP50 = heavyHist.Milliseconds(0.50);
        var ratio = heavyP50 / smallP50;
        var load = Load.Average();
        ResultSink.Add(new BenchResult
        {
            Target = string.Create(CultureInfo.InvariantCulture, $"users.createP50Ratio@{live}"),
            Value = ratio,
            Unit = "x",
            Goal = "<= 1.5",
            Baseline = "the same create at 10 live sessions (p50 ms)",
            BaselineValue = smallP50,
            Pass = ratio <= 1.5,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"memory default, in-process; one user, {samples} creates one at a time ({samples} before and {samples} after the heavy user's at 10 live): p50 {smallP50:F3} ms / p99 {smallHist.Milliseconds(0.99):F3} ms at 10 live, p50 {heavyP50:F3} ms / p99 {heavyHist.Milliseconds(0.99):F3} ms at {live} live (filled at {live / fillSeconds:N0}/s, 16 outstanding); load {load}"),
        });

        // (2) A cheap call's p99 during a close-all of `closeAll` sessions.
        var neighbour = await client.GetGrain<IUserSessionsGrain>("scale-neighbour").CreateSessionAsync();
        var probe = client.GetGrain<ISessionGrain>(neighbour.SessionId);
        var idle = new LatencyHistogram();
        using (var pace = new PeriodicTimer(ProbeInterval))
        {
            var idleWatch = Stopwatch.StartNew();
            while (idleWatch.Elapsed < TimeSpan.FromSeconds(2) && await pace.WaitForNextTickAsync())
            {
                await TimeAsync(probe, idle);
            }
        }
        var bulk = client.GetGrain<IUserSessionsGrain>("scale-bulk");
        fill.Restart();
        await Loops.ForEachAsync(closeAll, 16, _ => bulk.CreateSessionAsync());
        var bulkFillSeconds = fill.Elapsed.TotalSeconds;
        var during = new LatencyHistogram();
        var closing = Stopwatch.StartNew();
        var closed = bulk.CloseAllAsync();
        using (var pace = new PeriodicTimer(ProbeInterval))
        {
            while (!closed.IsCompleted && await pace.WaitForNextTickAsync())
            {
                await TimeAsync(probe, during);
            }
        }
        var closedCount = await closed;
        var closeSeconds = closing.Elapsed.TotalSeconds;
        var p99 = during.Milliseconds(0.99);
        load = Load.Average();
        ResultSink.Add(new BenchResult
        {
            Target = string.Create(CultureInfo.InvariantCulture, $"users.closeAllNeighbourP99@{closeAll}"),
            Value = p99,
            Unit = "ms",
            Goal = "<= 100",
            Baseline = "the same IsActive loop with the silo idle (p99 ms)",
            BaselineValue = idle.Milliseconds(0.99),
            Pass = p99 <= 100 && closedCount == closeAll,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"memory default, in-process; one user's {closeAll} live sessions (created at {closeAll / bulkFillSeconds:N0}/s) ended by CloseAllAsync in {closeSeconds:F2}s ({closeAll / closeSeconds:N0}/s, {closedCount} closed); meanwhile another user's session answered IsActive {during.Count} times (about one a millisecond): p50 {during.Milliseconds(0.50):F3} ms, p99 {p99:F3} ms, max {during.Max / 1e6:F1} ms; idle: p50 {idle.Milliseconds(0.50):F3} ms, p99 {idle.Milliseconds(0.99):F3} ms ({idle.Count} calls); load {load}"),
        });
    }

    /// <summary>Times <paramref name="samples"/> creates one at a time; each sampled session is closed (untimed) before the next, so the count stays put.</summary>
    private static async Task<LatencyHistogram> CreateLatencyAsync(IClusterClient client, IUserSessionsGrain user, int samples)
    {
        var histogram = new LatencyHistogram();
        for (var i = 0; i < samples; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var session = await user.CreateSessionAsync();
            histogram.Record((long)Stopwatch.GetElapsedTime(start).TotalNanoseconds);
            await client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        }
        return histogram;
    }

    private static async Task TimeAsync(ISessionGrain probe, LatencyHistogram histogram)
    {
        var start = Stopwatch.GetTimestamp();
        await probe.IsActiveAsync();
        histogram.Record((long)Stopwatch.GetElapsedTime(start).TotalNanoseconds);
    }
}
