using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using OrleansSessions.Client;
using OrleansSessions.Sessions;

namespace OrleansSessions.Cluster.Tests;

// Each test runs 1-3 silo processes; running them one at a time keeps a 2-core machine honest.
[CollectionDefinition("processes", DisableParallelization = true)]
public sealed class ProcessCollection;

[Collection("processes")]
public sealed class FailureTests
{
    [Fact]
    public async Task Kill_9_of_one_of_three_silos_loses_no_acknowledged_session_and_each_ends_once()
    {
        await using var cluster = await ProcessCluster.StartAsync(3, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:00:30",
            ["Sessions:WarningBefore"] = "00:00:05",
        });
        var client = cluster.Client;
        var users = Enumerable.Range(0, 100).Select(i => $"kill-{cluster.ClusterId}-{i}").ToArray();
        var created = new ConcurrentBag<SessionInfo>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 1000), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
            created.Add(await client.GetGrain<IUserSessionsGrain>(users[i % users.Length]).CreateSessionAsync()));
        var acknowledged = new ConcurrentDictionary<string, SessionInfo>();
        await Parallel.ForEachAsync(created, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (s, _) =>
            acknowledged[s.SessionId] = await client.GetGrain<ISessionGrain>(s.SessionId).TouchAsync());
        Assert.Equal(1000, acknowledged.Count);

        var gateway = ((ClusterClient)client).ConnectedGateway!;
        var victim = cluster.Silos.First(s => !gateway.EndsWith(":" + s.GatewayPort, StringComparison.Ordinal));
        var clock = Stopwatch.StartNew();
        await victim.KillAsync();

        var pending = new ConcurrentDictionary<string, SessionInfo>(acknowledged);
        while (!pending.IsEmpty)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{pending.Count} sessions still unanswered after {clock.Elapsed}");
            await Parallel.ForEachAsync(pending.Values.ToArray(), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (expected, _) =>
            {
                try
                {
                    var actual = await client.GetGrain<ISessionGrain>(expected.SessionId).GetAsync();
                    Assert.Equal(expected.LastActivity, actual.LastActivity);
                    Assert.Equal(expected.ExpiresAt, actual.ExpiresAt);
                    Assert.Equal(expected.UserId, actual.UserId);
                    pending.TryRemove(expected.SessionId, out SessionInfo? _);
                }
                catch (Exception ex) when (ProcessCluster.IsTransient(ex))
                {
                    // not yet recovered
                }
            });
        }
        var recovered = clock.Elapsed;
        Assert.True(recovered < TimeSpan.FromSeconds(10), $"recovery took {recovered}");

        // Every session ends exactly once, by timer on a live activation or by the janitor for the ones whose silo died.
        await Wait.UntilAsync(async () =>
        {
            var ended = 0;
            foreach (var user in users)
            {
                ended += (await ProcessCluster.RetryAsync(() => client.GetGrain<IUserSessionsGrain>(user).GetHistoryAsync(100), TimeSpan.FromSeconds(10))).Count;
            }
            return ended >= 1000;
        }, TimeSpan.FromSeconds(120), "all 1000 sessions in history");
        var history = new List<SessionInfo>();
        foreach (var user in users)
        {
            history.AddRange(await client.GetGrain<IUserSessionsGrain>(user).GetHistoryAsync(100));
        }
        Assert.Equal(1000, history.Count);
        Assert.Equal(1000, history.Select(h => h.SessionId).Distinct().Count());
        Assert.All(history, h =>
        {
            Assert.Equal(SessionStatus.Expired, h.Status);
            Assert.Equal(EndReason.IdleTimeout, h.EndReason);
            Assert.Equal(acknowledged[h.SessionId].ExpiresAt, h.EndedAt);
        });
    }

    [Fact]
    public async Task A_PostgreSQL_restart_during_traffic_is_survived_without_restarting_silos()
    {
        await using var cluster = await ProcessCluster.StartAsync(2, new Dictionary<string, string> { ["Sessions:IdleTimeout"] = "00:10:00" });
        var client = cluster.Client;
        var sessions = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            sessions.Add((await client.GetGrain<IUserSessionsGrain>($"pg-{cluster.ClusterId}-{i}").CreateSessionAsync()).SessionId);
        }
        using var stop = new CancellationTokenSource();
        long ok = 0, failed = 0;
        var unexpected = new ConcurrentBag<Exception>();
        var traffic = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var i = w;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await client.GetGrain<ISessionGrain>(sessions[i++ % sessions.Count]).TouchAsync();
                    Interlocked.Increment(ref ok);
                }
                catch (Exception ex) when (ProcessCluster.IsTransient(ex))
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
        await Wait.UntilAsync(() => Task.FromResult(Interlocked.Read(ref ok) > 100), TimeSpan.FromSeconds(30), "traffic flowing");

        await Postgres.RestartAsync();
        var okAfterRestart = Interlocked.Read(ref ok);
        await Wait.UntilAsync(() => Task.FromResult(Interlocked.Read(ref ok) > okAfterRestart + 500), TimeSpan.FromSeconds(60), "traffic resumed after the restart");
        await stop.CancelAsync();
        await Task.WhenAll(traffic);

        Assert.Empty(unexpected);
        Assert.All(cluster.Silos, s => Assert.False(s.HasExited, s.Output));
        await cluster.WaitForActiveSilosAsync(2);
    }

    [Fact]
    public async Task Random_bytes_and_oversized_frames_at_the_gateway_leave_the_silo_healthy()
    {
        await using var cluster = await ProcessCluster.StartAsync(1);
        var port = cluster.Silos[0].GatewayPort;
        var random = new Random(99);
        for (var i = 0; i < 30; i++)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync("127.0.0.1", port);
            var bytes = new byte[random.Next(1, 8192)];
            random.NextBytes(bytes);
            if (i % 3 == 0)
            {
                // A length prefix far above Messaging:MaxFrameBytes.
                BitConverter.TryWriteBytes(bytes.AsSpan(0, Math.Min(4, bytes.Length)), 50_000_000);
            }
            try
            {
                await socket.SendAsync(bytes);
                var buffer = new byte[256];
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
                {
                }
            }
            catch (SocketException)
            {
                // closed by the silo: expected
            }
        }
        using var http = new HttpClient();
        Assert.True((await http.GetAsync(new Uri($"http://127.0.0.1:{cluster.Silos[0].HttpPort}/healthz"))).IsSuccessStatusCode);
        var session = await cluster.Client.GetGrain<IUserSessionsGrain>("bytes-" + cluster.ClusterId).CreateSessionAsync();
        Assert.True(await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).IsActiveAsync());
        Assert.False(cluster.Silos[0].HasExited);
    }

    [Fact]
    public async Task A_rolling_restart_of_all_silos_under_traffic_loses_no_acknowledged_write()
    {
        await using var cluster = await ProcessCluster.StartAsync(3, new Dictionary<string, string> { ["Sessions:IdleTimeout"] = "00:10:00" });
        var client = cluster.Client;
        var acknowledged = new ConcurrentDictionary<string, SessionInfo>();
        using var stop = new CancellationTokenSource();
        var unexpected = new ConcurrentBag<Exception>();
        var traffic = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var n = 0;
            var mine = new List<string>();
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (mine.Count < 50 || n % 5 == 0)
                    {
                        var created = await client.GetGrain<IUserSessionsGrain>($"roll-{cluster.ClusterId}-{w}-{n % 20}").CreateSessionAsync();
                        acknowledged[created.SessionId] = created;
                        mine.Add(created.SessionId);
                    }
                    else
                    {
                        var id = mine[n % mine.Count];
                        var touched = await client.GetGrain<ISessionGrain>(id).TouchAsync();
                        acknowledged.AddOrUpdate(id, touched, (_, old) => touched.LastActivity > old.LastActivity ? touched : old);
                    }
                }
                catch (Exception ex) when (ProcessCluster.IsTransient(ex))
                {
                    await Task.Delay(20);
                }
                catch (Exception ex)
                {
                    unexpected.Add(ex);
                }
                n++;
            }
        })).ToArray();

        foreach (var silo in cluster.Silos)
        {
            var before = acknowledged.Count;
            await Wait.UntilAsync(() => Task.FromResult(acknowledged.Count > before + 50), TimeSpan.FromSeconds(60), "traffic before restart");
            await silo.StopAsync();
            await silo.StartAsync();
            await cluster.WaitForActiveSilosAsync(3, TimeSpan.FromSeconds(60));
        }
        await stop.CancelAsync();
        await Task.WhenAll(traffic);
        Assert.Empty(unexpected);

        foreach (var expected in acknowledged.Values)
        {
            var actual = await ProcessCluster.RetryAsync(() => client.GetGrain<ISessionGrain>(expected.SessionId).GetAsync().AsTask(), TimeSpan.FromSeconds(30));
            Assert.True(actual.LastActivity >= expected.LastActivity, $"{expected.SessionId}: stored {actual.LastActivity:O}, acknowledged {expected.LastActivity:O}");
            Assert.Equal(SessionStatus.Active, actual.Status);
        }
        Assert.True(acknowledged.Count > 150);
    }
}

internal static class Postgres
{
    public static async Task RestartAsync()
    {
        var version = Directory.GetDirectories("/etc/postgresql").Select(Path.GetFileName).OrderByDescending(v => v).First()!;
        using var restart = System.Diagnostics.Process.Start("pg_ctlcluster", [version, "main", "restart"])!;
        await restart.WaitForExitAsync();
        Assert.Equal(0, restart.ExitCode);
    }
}
