using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using OrleansSessions.Client;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>
/// Real silo processes on Redis (Storage:Provider=redis): kill -9 of a silo (nothing acknowledged lost, every session
/// ends once, answers again within the 5 s target) and a redis-server crash and restart under traffic.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class RedisClusterTests(ITestOutputHelper output)
{
    private static readonly TimeSpan FailoverTarget = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task On_redis_kill_9_of_one_of_three_silos_loses_no_acknowledged_session_and_each_ends_once()
    {
        await using var cluster = await ProcessCluster.StartAsync("rkill", 3, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:00:20",
            ["Sessions:WarningBefore"] = "00:00:05",
        }, provider: "redis");
        var client = cluster.Client;
        var users = Enumerable.Range(0, 100).Select(i => $"{cluster.ClusterId}-u{i}").ToArray();
        var expiredEvents = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        await using var events = await client.SubscribeToSessionEventsAsync(e =>
        {
            if (e.Type == SessionEventType.Expired && e.Session.UserId.StartsWith(cluster.ClusterId, StringComparison.Ordinal))
            {
                expiredEvents.AddOrUpdate(e.Session.SessionId, 1, (_, n) => n + 1);
            }
            return Task.CompletedTask;
        }).WaitAsync(TimeSpan.FromSeconds(30));

        var setup = Stopwatch.StartNew();
        var created = new ConcurrentBag<SessionInfo>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 1000), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
            created.Add(await client.GetGrain<IUserSessionsGrain>(users[i % users.Length]).CreateSessionAsync()));
        var acknowledged = new ConcurrentDictionary<string, SessionInfo>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(created, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (s, _) =>
            acknowledged[s.SessionId] = await client.GetGrain<ISessionGrain>(s.SessionId).TouchAsync());
        Assert.Equal(1000, acknowledged.Count);
        output.WriteLine($"1000 sessions created and touched on Redis in {setup.Elapsed.TotalSeconds:F1} s");

        // The client's gateways are silo 0, 1, 2 in that order: the victim is not the first one.
        var victim = cluster.Silos[1];
        var clock = Stopwatch.StartNew();
        await victim.KillAsync();

        var pending = new ConcurrentDictionary<string, SessionInfo>(acknowledged, StringComparer.Ordinal);
        var wrong = new ConcurrentBag<string>();
        var unexpected = new ConcurrentQueue<string>();
        var rounds = 0;
        while (!pending.IsEmpty && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            rounds++;
            await Parallel.ForEachAsync(pending.Values.ToArray(), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (expected, _) =>
            {
                try
                {
                    var actual = await client.GetGrain<ISessionGrain>(expected.SessionId).GetAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(2));
                    if (actual.LastActivity != expected.LastActivity || actual.ExpiresAt != expected.ExpiresAt || actual.UserId != expected.UserId)
                    {
                        wrong.Add($"{expected.SessionId}: acknowledged {expected.LastActivity:O}/{expected.ExpiresAt:O}, got {actual.LastActivity:O}/{actual.ExpiresAt:O} ({actual.Status})");
                    }
                    pending.TryRemove(expected.SessionId, out SessionInfo? _);
                }
                catch (Exception ex) when (Calls.IsTransient(ex))
                {
                    // not recovered yet
                }
                catch (Exception ex)
                {
                    unexpected.Enqueue($"{clock.Elapsed.TotalSeconds:F2} s {expected.SessionId}: {ex.GetType().FullName}: {ex.Message}");
                }
            });
            if (!pending.IsEmpty)
            {
                await Task.Delay(50);
            }
        }
        var recovered = clock.Elapsed;
        output.WriteLine($"on Redis, after kill -9 of silo {victim.Index}: all {acknowledged.Count - pending.Count} acknowledged sessions answered again after {recovered.TotalSeconds:F2} s ({rounds} rounds); target {FailoverTarget.TotalSeconds} s");
        Assert.True(unexpected.IsEmpty, $"{unexpected.Count} unclassified failures after the kill:\n{string.Join('\n', unexpected.Take(10))}\n{cluster.Logs(60)}");
        Assert.True(pending.IsEmpty, $"{pending.Count} sessions still unanswered {recovered} after the kill\n{cluster.Logs()}");
        Assert.True(wrong.IsEmpty, $"{wrong.Count} sessions answered with other than the acknowledged state:\n{string.Join('\n', wrong.Take(20))}");
        // Honest bound, as on PostgreSQL: the target is 5 s; 10 s fails loudly (the measured time is printed above either way).
        Assert.True(recovered < TimeSpan.FromSeconds(10), $"recovery took {recovered}, target {FailoverTarget}");

        // Every session ends exactly once: by its timer on a live (or re-activated) activation, or by the janitor.
        var lastDeadline = acknowledged.Values.Max(s => s.ExpiresAt);
        var ended = 0;
        await Wait.UntilAsync(async () =>
        {
            ended = 0;
            foreach (var user in users)
            {
                ended += (await Calls.RetryAsync(() => client.GetGrain<IUserSessionsGrain>(user).GetHistoryAsync(100), TimeSpan.FromSeconds(10))).Count;
            }
            return ended >= 1000;
        }, lastDeadline - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(45), () => $"all 1000 sessions in history ({ended} so far)\n{cluster.Logs()}", TimeSpan.FromSeconds(1));
        output.WriteLine($"all sessions ended {(DateTimeOffset.UtcNow - lastDeadline).TotalSeconds:F1} s after the last deadline");

        var history = new List<SessionInfo>();
        foreach (var user in users)
        {
            var mine = await Calls.RetryAsync(() => client.GetGrain<IUserSessionsGrain>(user).GetHistoryAsync(100), TimeSpan.FromSeconds(10));
            Assert.All(mine, h => Assert.Equal(user, h.UserId));
            history.AddRange(mine);
        }
        Assert.Equal(1000, history.Count);
        Assert.Equal(1000, history.Select(h => h.SessionId).Distinct().Count());
        Assert.All(history, h =>
        {
            Assert.True(acknowledged.ContainsKey(h.SessionId));
            Assert.Equal(SessionStatus.Expired, h.Status);
            Assert.Equal(EndReason.IdleTimeout, h.EndReason);
            Assert.Equal(acknowledged[h.SessionId].ExpiresAt, h.EndedAt);
        });
        // Events are not durable (a memory stream), so some may be missing; none may come twice.
        output.WriteLine($"expired events seen for {expiredEvents.Count} of 1000 sessions");
        Assert.All(expiredEvents, kv => Assert.True(kv.Value == 1, $"{kv.Key} expired {kv.Value} times"));
    }

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
