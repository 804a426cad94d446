using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Core.Internal;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// (4) Dormant ends per second, warnings off (Sessions:WarningBefore 0), so that the janitor partitions end dormant
/// sessions at their deadlines. M sessions are created, each with its own idle timeout chosen so that every deadline is
/// the same instant T0, far enough ahead for all of them to go dormant and their users' activations to be collected;
/// from T0 the janitor wakes them all and each ends (activation, state read, end written, index row removed, event,
/// its user's history updated one-way, deactivation). Rate = M / (the time the silo's ended count reached M - T0). The
/// floor in the same silo afterwards: M bare grains stored and deactivated beforehand, each called once on a method that
/// writes one field and deactivates (activation, read, write, deactivation), 64 outstanding.
/// </summary>
internal static partial class DormantSessions
{
    private static async Task EndsAsync(Backend backend, Settings settings)
    {
        var count = settings.EndsCount;
        var name = Name(backend);
        await using var silo = await StartSiloAsync(backend, settings, Config(settings.DormantAfter, TimeSpan.Zero), "dormantends" + name);
        var client = silo.Client;
        var metrics = silo.Services.GetRequiredService<SessionMetrics>();
        var partitions = silo.Services.GetRequiredService<IOptions<JanitorOptions>>().Value.Partitions;
        var quantum = silo.Services.GetRequiredService<IOptions<GrainCollectionOptions>>().Value.CollectionQuantum;
        using var meter = new SiloMeter(silo.Services, JanitorLag);

        // Warm-up: the floor's call twice on the same grains (new, then stored), sessions deactivated right after their
        // create with a 2 s idle timeout (their janitor partition ends them, the path measured), and a round of creates
        // ending on their own timers that gives the create rate.
        var warm = Math.Min(1_000, count);
        for (var round = 0; round < 2; round++)
        {
            await Loops.ForEachAsync(warm, Concurrency, i => Bare(client, "warm-d-" + Key(i)).WriteAndDeactivateAsync());
        }
        var warmIds = new string[warm];
        await CreateAsync(client, "warm1-", warm, _ => TimeSpan.FromSeconds(2), warmIds);
        await Loops.ForEachAsync(warm, Concurrency, async i => await client.GetGrain<ISessionGrain>(warmIds[i]).AsReference<IGrainManagementExtension>().DeactivateOnIdle());
        var warmRound = await CreateAsync(client, "warm2-", warm, _ => WarmIdle);
        var warmEnded = await WaitUntilAsync(() => metrics.Ended >= 2 * warm, DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30));
        var endedInWarmUp = metrics.Ended;

        // The floor's grains: stored and not activated.
        var setupWatch = Stopwatch.StartNew();
        await Loops.ForEachAsync(count, Concurrency, i => Bare(client, "de-" + Key(i)).WriteAndDeactivateAsync());
        var setupSeconds = setupWatch.Elapsed.TotalSeconds;
        await CollectAsync(silo, partitions);

        // Every deadline at T0: after the creates, dormancy (DormantAfter plus Orleans' collection quantum, and the time
        // the collection takes on a busy machine) and the collection of the users. The creates' time is estimated from the warm-up's rate, at most 4 times the time the
        // floor's grains took to be stored (one new activation and one write each), plus 20%.
        var createEstimate = TimeSpan.FromSeconds(Math.Min(count / warmRound.Rate, 4 * setupSeconds) * 1.2);
        var t0 = DateTimeOffset.UtcNow + createEstimate + settings.DormantAfter + quantum + TimeSpan.FromSeconds(30);
        var created = await CreateAsync(client, "end-", count, _ =>
        {
            var idle = t0 - DateTimeOffset.UtcNow;
            return idle > TimeSpan.FromSeconds(1) ? idle : TimeSpan.FromSeconds(1);
        });
        var createEnd = DateTimeOffset.UtcNow;
        var firstDeadline = created.FirstDeadline;
        var lastDeadline = created.LastDeadline;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  [{name}] ends: created {count} in {created.Seconds:F1}s ({created.Rate:N0}/s); deadlines from {(firstDeadline - createEnd).TotalSeconds:F1}s to {(lastDeadline - createEnd).TotalSeconds:F1}s after the last create"));
        var dormant = await WaitUntilAsync(() => metrics.ActiveSessionActivations == 0, firstDeadline - TimeSpan.FromSeconds(3), 250);
        var activationsLeft = metrics.ActiveSessionActivations;
        await CollectAsync(silo, partitions);
        var types = await TypeCountsAsync(silo);
        var collectedBefore = firstDeadline - DateTimeOffset.UtcNow;

        var endedBefore = metrics.Ended;
        var lagBefore = new long[ExpiryLagHistogram.BucketCount];
        metrics.ExpiryLagCounts.CopyTo(lagBefore);
        meter.Reset();
        var untilDue = firstDeadline - DateTimeOffset.UtcNow;
        if (untilDue > TimeSpan.Zero)
        {
            await Task.Delay(untilDue);
        }
        var giveUpAt = lastDeadline + TimeSpan.FromSeconds(Math.Max(120, created.Seconds));
        var done = await WaitUntilAsync(() => metrics.Ended - endedBefore >= count, giveUpAt, 10);
        var endAt = DateTimeOffset.UtcNow;
        var ended = metrics.Ended - endedBefore;
        var seconds = (endAt - firstDeadline).TotalSeconds;
        var rate = ended / seconds;
        var lag = new long[ExpiryLagHistogram.BucketCount];
        metrics.ExpiryLagCounts.CopyTo(lag);
        for (var b = 0; b < lag.Length; b++)
        {
            lag[b] -= lagBefore[b];
        }
        var wakes = meter.Histogram(JanitorLag, "deadline");
        var janitorSeen = meter.Seen(JanitorLag);
        var load = Load.Average();

        // The floor, once the silo is quiet: each stored bare grain activated, read, written and deactivated.
        await WaitUntilAsync(() => metrics.ActiveSessionActivations == 0, DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30));
        await Task.Delay(1_000);
        var floorRate = await Loops.ForEachAsync(count, Concurrency, i => Bare(client, "de-" + Key(i)).WriteAndDeactivateAsync());

        var completed = done is not null && ended >= count;
        ResultSink.Add(new BenchResult
        {
            Target = $"dormant.{name}.ends@{count}",
            Value = rate,
            Unit = "sessions/s",
            Goal = ">= 0.5 x bare activate-read-write-deactivate",
            Baseline = "bare: a stored grain, not activated, called once on a method that writes one field and deactivates (activation, read, write, deactivation), 64 outstanding",
            BaselineValue = floorRate,
            Pass = completed && rate >= 0.5 * floorRate,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{Where(backend, settings)}, real time, Sessions:WarningBefore 0, Sessions:DormantAfter {settings.DormantAfter.TotalSeconds}s (Orleans' collection quantum {quantum.TotalSeconds}s); {count} sessions (fewer than the other parts' {settings.Count}, to keep the step short) created at {created.Rate:N0}/s, each with its own idle timeout so that every deadline falls within {(lastDeadline - firstDeadline).TotalMilliseconds:F0} ms; {(dormant is { } d ? $"all dormant {d.TotalSeconds:F1}s after the last create" : $"NOT ALL DORMANT by themselves: {activationsLeft} session activations left 3 s before the deadline (the forced collection below took those too)")}; then ForceActivationCollection(0) (the idle users: each end activates its user again for the history) {collectedBefore.TotalSeconds:F1}s before the deadline, activations by type then [{Describe(types)}]; {ended}/{count} ended {(completed ? $"{seconds:F2}s after the deadline: {rate:N0}/s = {rate / floorRate:F2} x the bare floor measured afterwards in the same silo ({floorRate:N0}/s)" : $"by the give-up time, {seconds:F1}s after the deadline (TIMED OUT)")}; the users' history updates are one-way and not waited for; janitor lag at the deadline (sessions.janitor_lag) {(janitorSeen ? Describe(wakes) : "not recorded (no such histogram in this build)")}; expiry lag (sessions.expiry_lag) p50 {ExpiryLagHistogram.Quantile(lag, 0.5) ?? double.NaN:F1} p99 {ExpiryLagHistogram.Quantile(lag, 0.99) ?? double.NaN:F1} ms; warm-up {warm} floor calls twice, {warm} sessions ended by their janitor partition and {warm} on their own timers ({(warmEnded is null ? $"only {endedInWarmUp} of {2 * warm} ended within 30 s" : "all ended")}); old janitor figure for reference: 1,516 sessions/s (design brief, 2026-12-07); load {load}"),
        });
    }
}
