using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using OrleansSessions.Client;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>
/// Real silo processes on Redis (Storage:Provider=redis): a redis-server crash and restart under traffic. (Kill -9 of a
/// silo on Redis is <see cref="FailoverTests.Kill_9_of_one_of_three_silos_loses_no_acknowledged_session_and_each_ends_once"/>.)
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class RedisClusterTests(ITestOutputHelper output)
{
    /// <summary>
    /// The silos run on a private redis-server (appendonly yes, appendfsync always) that is killed with SIGKILL under
    /// traffic and started again on its data folder: the silos stay up, the service resumes, and every create and touch
    /// acknowledged before or after the crash is still there.
    /// </summary>
    [Fact]
    public async Task A_redis_crash_and_restart_under_traffic_is_survived_and_nothing_acknowledged_is_lost()
    {
        await using var redis = await PrivateRedis.StartAsync();
        var acknowledged = new ConcurrentDictionary<string, SessionInfo>(StringComparer.Ordinal);
        await using (var cluster = await ProcessCluster.StartAsync("redis", 2, new Dictionary<string, string> { ["Sessions:IdleTimeout"] = "00:10:00" }, redis.ConnectionString, "redis"))
        {
            var client = cluster.Client;
            var sessions = new ConcurrentQueue<string>();
            for (var i = 0; i < 20; i++)
            {
                var created = await client.GetGrain<IUserSessionsGrain>($"{cluster.ClusterId}-u{i}").CreateSessionAsync();
                sessions.Enqueue(created.SessionId);
                acknowledged[created.SessionId] = created;
            }
            long ok = 0, failed = 0;
            var unexpected = new ConcurrentBag<Exception>();
            using var stop = new CancellationTokenSource();
            var traffic = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                for (var i = w; !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        SessionInfo written;
                        if (i % 5 == 0)
                        {
                            // Creates too: new state keys, deadline rows and user state written during the outage window.
                            written = await client.GetGrain<IUserSessionsGrain>($"{cluster.ClusterId}-w{w}-{i % 7}").CreateSessionAsync().WaitAsync(TimeSpan.FromSeconds(5));
                        }
                        else
                        {
                            var ids = sessions.ToArray();
                            written = await client.GetGrain<ISessionGrain>(ids[i % ids.Length]).TouchAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
                        }
                        acknowledged.AddOrUpdate(written.SessionId, written, (_, old) => written.LastActivity > old.LastActivity ? written : old);
                        if (i % 5 == 0)
                        {
                            sessions.Enqueue(written.SessionId);
                        }
                        Interlocked.Increment(ref ok);
                    }
                    catch (Exception ex) when (Calls.IsTransient(ex))
                    {
                        Interlocked.Increment(ref failed);
                        await Task.Delay(20);
                    }
                    catch (Exception ex)
                    {
                        unexpected.Add(ex);
                        await Task.Delay(20);
                    }
                }
            })).ToArray();
            try
            {
                await Wait.UntilAsync(() => Task.FromResult(Interlocked.Read(ref ok) > 200), TimeSpan.FromSeconds(30), "traffic flowing");
                var restart = Stopwatch.StartNew();
                await redis.CrashAndRestartAsync();
                output.WriteLine($"redis-server killed (-9) and answering again in {restart.Elapsed.TotalSeconds:F2} s");
                var okAfterRestart = Interlocked.Read(ref ok);
                await Wait.UntilAsync(() => Task.FromResult(Interlocked.Read(ref ok) > okAfterRestart + 500), TimeSpan.FromSeconds(60),
                    () => $"traffic resumed after the restart ({Interlocked.Read(ref ok) - okAfterRestart} since)\n{cluster.Logs()}");
                output.WriteLine($"500 writes acknowledged again {restart.Elapsed.TotalSeconds:F2} s after the crash");
            }
            finally
            {
                await stop.CancelAsync();
                await Task.WhenAll(traffic);
            }
            output.WriteLine($"{ok} writes acknowledged ({acknowledged.Count} sessions), {failed} transient failures, {unexpected.Count} others");
            // A storage outage must reach callers as a classified, transient failure (SessionFailureKind.Unavailable, HTTP 503).
            Assert.True(unexpected.IsEmpty, "unclassified failures during the crash: " + string.Join("\n", unexpected.Take(10).Select(e => $"{e.GetType().FullName}: {e.Message}")));
            Assert.All(cluster.Silos, s => Assert.False(s.HasExited, s.Tail()));
            await cluster.WaitForActiveSilosAsync(2, TimeSpan.FromSeconds(30));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            foreach (var silo in cluster.Silos)
            {
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(silo.Url("/healthz"))).StatusCode);
            }
        }

        // Read back from Redis itself, not from the activations' memory: a fresh cluster on the same server and folder.
        await using var fresh = await ProcessCluster.StartAsync("redis2", 1, new Dictionary<string, string> { ["Sessions:IdleTimeout"] = "00:10:00" }, redis.ConnectionString, "redis");
        var lost = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(acknowledged.Values, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (expected, _) =>
        {
            var actual = await Calls.RetryAsync(() => fresh.Client.GetGrain<ISessionGrain>(expected.SessionId).GetAsync().AsTask(), TimeSpan.FromSeconds(20));
            if (actual.LastActivity < expected.LastActivity || actual.Status != SessionStatus.Active)
            {
                lost.Add($"{expected.SessionId}: acknowledged {expected.LastActivity:O}, stored {actual.LastActivity:O} ({actual.Status})");
            }
        });
        Assert.True(lost.IsEmpty, $"{lost.Count} of {acknowledged.Count} acknowledged writes lost:\n{string.Join('\n', lost.Take(20))}");
        var after = await fresh.Client.GetGrain<IUserSessionsGrain>($"{fresh.ClusterId}-after").CreateSessionAsync();
        Assert.True(await fresh.Client.GetGrain<ISessionGrain>(after.SessionId).IsActiveAsync());
    }
}
