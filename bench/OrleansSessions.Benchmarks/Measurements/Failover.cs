using System.Diagnostics;
using System.Globalization;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Client;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 6: failover. Three processes of the silo host (OrleansSessions.Silo.dll) on PostgreSQL, or on Redis with
/// --redis (its default membership settings), Orleans clients (UseOrleansClient + UseOrleansSessions with the three gateways) touching
/// every session continuously; one silo gets SIGKILL (kill -9). From that moment every session is probed
/// (touch, retry every 50 ms) until it answers; failover time = when the last one answered. A session is lost if it
/// answers not-found or ended, or if it comes back with a LastActivity older than a touch acknowledged before the kill.
/// </summary>
internal static class Failover
{
    public static async Task RunAsync(Args args)
    {
        var count = args.Int("sessions", 3_000);
        var loadSeconds = args.Double("load-seconds", 3);
        const string clusterId = "failoverbench";
        string[] siloArgs;
        string backend;
        if (args.Get("redis") is { Length: > 0 } redis)
        {
            // The bench's durable redis-server (appendfsync always), its database emptied first.
            using (await RedisKeySpace.FlushAsync(redis))
            {
            }
            siloArgs = ["--Storage:Provider=redis", $"--Storage:ConnectionString={redis}", $"--Cluster:ClusterId={clusterId}"];
            backend = "Redis (appendonly yes, appendfsync always)";
        }
        else
        {
            var server = args.Get("pg", "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres");
            var connectionString = await PostgresDatabase.RecreateAsync(server, "orleanssessions_bench_failover", args.Int("pool", 10));
            siloArgs = ["--Storage:Provider=postgres", $"--Storage:ConnectionString={connectionString}", $"--Cluster:ClusterId={clusterId}"];
            backend = "PostgreSQL";
        }
        var prefix = backend == "PostgreSQL" ? "failover" : "failover.redis";
        var clientCount = args.Int("clients", 2);
        // The clients' Orleans response timeout (ClientMessagingOptions.ResponseTimeout): a call whose message was lost
        // with the killed silo's connections fails only when it runs out. 0 keeps UseOrleansSessions' default
        // (SessionClientOptions.ResponseTimeout, 5 s).
        var responseTimeoutSeconds = args.Double("response-timeout-seconds", 0);
        TimeSpan? responseTimeout = responseTimeoutSeconds > 0 ? TimeSpan.FromSeconds(responseTimeoutSeconds) : null;

        var silos = new List<SiloProcess>();
        var clientHosts = new List<ClientHost>();
        try
        {
            // All three at once: each joins the membership table (on PostgreSQL each also applies the idempotent,
            // advisory-locked schema).
            for (var s = 0; s < 3; s++)
            {
                silos.Add(SiloProcess.StartSiloHost("silo" + s.ToString(CultureInfo.InvariantCulture), siloArgs));
            }
            await Task.WhenAll(silos.Select(s => s.WaitReadyAsync(TimeSpan.FromSeconds(90))));
            await Task.Delay(3000); // every silo reads the table (1 s refresh) and sees the other two on its ring

            var gateways = silos.Select(s => s.Gateway).ToArray();
            for (var c = 0; c < clientCount; c++)
            {
                // Each client connects to the gateways it is given and fails over between them.
                clientHosts.Add(await ClientHost.StartAsync(gateways, clusterId, responseTimeout));
            }
            var clients = clientHosts.Select(h => h.Client).ToList();
            var ids = new string[count];
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 128 }, async (i, _) =>
                ids[i] = (await clients[i % clients.Count].GetGrain<IUserSessionsGrain>("fo-" + i.ToString(CultureInfo.InvariantCulture)).CreateSessionAsync()).SessionId);

            // Load: every session touched in turn; remember the newest acknowledged LastActivity of each.
            var acknowledged = new DateTimeOffset[count];
            using var stopLoad = new CancellationTokenSource();
            long loadCalls = 0;
            long loadErrors = 0;
            var loaders = Enumerable.Range(0, 64).Select(w => Task.Run(async () =>
            {
                var client = clients[w % clients.Count];
                for (var i = w; !stopLoad.IsCancellationRequested; i = (i + 64) % count)
                {
                    try
                    {
                        var info = await client.GetGrain<ISessionGrain>(ids[i]).TouchAsync();
                        lock (acknowledged)
                        {
                            if (info.LastActivity > acknowledged[i])
                            {
                                acknowledged[i] = info.LastActivity;
                            }
                        }
                        Interlocked.Increment(ref loadCalls);
                    }
                    catch (Exception)
                    {
                        Interlocked.Increment(ref loadErrors);
                        await Task.Delay(10);
                    }
                }
            })).ToArray();
            await Task.Delay(TimeSpan.FromSeconds(loadSeconds));
            var loadRate = Interlocked.Read(ref loadCalls) / loadSeconds;

            var victim = silos[2];
            var killedAt = Stopwatch.StartNew();
            victim.Kill();
            var killTime = DateTimeOffset.UtcNow;
            DateTimeOffset[] ackAtKill;
            lock (acknowledged)
            {
                ackAtKill = (DateTimeOffset[])acknowledged.Clone();
            }

            var answeredAfter = new double[count];
            var failedFirst = new bool[count];
            var lost = new string?[count];
            var probeDeadline = TimeSpan.FromSeconds(args.Double("probe-timeout-seconds", 60));
            // Every session probed at once: a bounded parallelism would make the sessions queued behind the affected
            // ones look slow. One call per session at a time: a probe waits for its call's answer or failure (Orleans'
            // response timeout bounds it) before it tries again, so that the probes do not pile abandoned calls on a
            // cluster that is recovering (with a 2 s client-side give-up and a new call after each, as before 2026-12-03,
            // 20,000 probes could send up to 10,000 new calls a second into it while the abandoned ones still ran).
            await Task.WhenAll(Enumerable.Range(0, count).Select(i => Task.Run(async () =>
            {
                var client = clients[i % clients.Count];
                while (true)
                {
                    try
                    {
                        var info = await client.GetGrain<ISessionGrain>(ids[i]).TouchAsync().AsTask().WaitAsync(Max(probeDeadline - killedAt.Elapsed, TimeSpan.Zero));
                        answeredAfter[i] = killedAt.Elapsed.TotalSeconds;
                        if (info.LastActivity < ackAtKill[i])
                        {
                            lost[i] = $"LastActivity {info.LastActivity:O} older than acknowledged {ackAtKill[i]:O}";
                        }
                        return;
                    }
                    catch (Exception ex) when (ex is SessionNotFoundException or SessionExpiredException or SessionClosedException)
                    {
                        answeredAfter[i] = killedAt.Elapsed.TotalSeconds;
                        lost[i] = ex.GetType().Name;
                        return;
                    }
                    catch (Exception)
                    {
                        failedFirst[i] = true;
                        if (killedAt.Elapsed > probeDeadline)
                        {
                            answeredAfter[i] = double.PositiveInfinity;
                            lost[i] = "no answer";
                            return;
                        }
                        await Task.Delay(50);
                    }
                }
            })));
            stopLoad.Cancel();
            await Task.WhenAll(loaders);

            var affected = failedFirst.Count(f => f);
            var lostCount = lost.Count(l => l is not null);
            var max = answeredAfter.Max();
            var sorted = answeredAfter.Order().ToArray();
            var affectedTimes = answeredAfter.Where((_, i) => failedFirst[i]).Order().ToArray();
            var load = Load.Average();
            var note = string.Create(CultureInfo.InvariantCulture,
                $"3 silo host processes on {backend}, default membership settings of the silo host (1 s probes, 3 misses), {clientCount} Orleans clients with the 3 gateways (response timeout {(responseTimeout is { } t ? t.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s" : new SessionClientOptions().ResponseTimeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s, the client library's default")}); {count} sessions under ~{loadRate:N0} touches/s; kill -9 of one silo at {killTime:HH:mm:ss.fff}; {affected} sessions failed at least once, all answered after {max:F2}s (affected p50 {(affectedTimes.Length > 0 ? affectedTimes[affectedTimes.Length / 2] : 0):F2}s); {lostCount} lost{(lostCount > 0 ? ": " + lost.First(l => l is not null) : "")}; load {load}");
            ResultSink.Add(new BenchResult
            {
                Target = prefix + ".allAnswered",
                Value = max,
                Unit = "s",
                Goal = "<= 5",
                Baseline = "seed: one process, in memory (a crash loses every session)",
                Pass = max <= 5 && lostCount == 0,
                Note = note,
            });
            ResultSink.Add(new BenchResult
            {
                Target = prefix + ".lostSessions",
                Value = lostCount,
                Unit = "sessions",
                Goal = "0",
                Baseline = "seed: all sessions of the process",
                BaselineValue = count,
                Pass = lostCount == 0,
                Note = string.Create(CultureInfo.InvariantCulture, $"median answer time over all sessions {sorted[sorted.Length / 2]:F3}s"),
            });
        }
        finally
        {
            foreach (var host in clientHosts)
            {
                await host.DisposeAsync();
            }
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
