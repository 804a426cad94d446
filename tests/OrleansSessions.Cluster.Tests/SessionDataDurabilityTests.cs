using System.Diagnostics;
using Orleans.Runtime;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>
/// Session data (attributes and the conversation) on real silo processes with durable storage: every acknowledged append
/// and attribute write survives kill -9 of a silo and a restart of the storage server, and once the sessions are closed
/// no record of their data is left in the storage itself (PostgreSQL's state table, Redis' keys).
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class SessionDataDurabilityTests(ITestOutputHelper output)
{
    /// <summary>
    /// 30 sessions, each with a writer appending chat turns and setting a counter attribute; kill -9 of the silo that
    /// hosts the most of them. Half of the killed silo's sessions write back to back up to the kill and never again (the
    /// call the kill cuts off is their last); the others, and every session elsewhere, keep writing until each has been
    /// written again. Then every acknowledged message is read back under its id, the counters and data versions are
    /// checked, and after every session is closed the storage holds no record of their data.
    /// </summary>
    /// <remarks>On PostgreSQL every message is kept and checked; on Redis the conversation is bounded to 40 messages, so
    /// trimming and the clearing of the records it empties run through the kill too.</remarks>
    [Theory]
    [InlineData("postgres")]
    [InlineData("redis")]
    public async Task Kill_9_of_a_silo_loses_no_acknowledged_data_write_and_closed_sessions_leave_no_data_in_storage(string provider)
    {
        var clock = Stopwatch.StartNew();
        await using var cluster = await ProcessCluster.StartAsync(provider == "redis" ? "rdata" : "data", 3, new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:10:00",
            ["Sessions:ConversationLimit"] = provider == "redis" ? "40" : "10000",
        }, provider: provider);
        var client = cluster.Client;
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: 3 silos on {provider} started");
        var traffic = await ChatTraffic.CreateAsync(client, Enumerable.Range(0, 30).Select(i => $"{cluster.ClusterId}-u{i}"));
        SiloProcess victim;
        var recovery = TimeSpan.Zero;
        traffic.Start(TimeSpan.FromMilliseconds(50));
        try
        {
            await Wait.UntilAsync(() => Task.FromResult(traffic.Sessions.All(s => s.AcknowledgedAppends >= 3 && s.AcknowledgedAttributeWrites >= 1)),
                TimeSpan.FromSeconds(60), () => $"messages and attributes stored for every session ({traffic.Summary()})");

            // Where each session's activation lives; the victim is whichever of silos 1 and 2 (not the client's first
            // gateway) hosts more of them.
            var statistics = await client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
            var ids = traffic.Sessions.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
            var hostPort = statistics
                .Where(s => ids.Contains(s.GrainId.Key.ToString()!))
                .ToDictionary(s => s.GrainId.Key.ToString()!, s => s.SiloAddress.Endpoint.Port, StringComparer.Ordinal);
            victim = cluster.Silos.Skip(1).OrderByDescending(silo => hostPort.Values.Count(port => port == silo.SiloPort)).First();
            var onVictim = traffic.Sessions.Where(s => hostPort.GetValueOrDefault(s.Id) == victim.SiloPort).ToList();
            output.WriteLine($"sessions per silo: {string.Join(", ", cluster.Silos.Select(silo => $"silo {silo.Index}: {hostPort.Values.Count(port => port == silo.SiloPort)}"))}; victim silo {victim.Index}");
            Assert.True(onVictim.Count >= 2, $"only {onVictim.Count} of the sessions live on silo {victim.Index}: the kill would test nothing");
            var halted = onVictim.Where((_, i) => i % 2 == 1).ToList();
            foreach (var session in traffic.Sessions)
            {
                session.Note = onVictim.Contains(session) ? (halted.Contains(session) ? "on the killed silo, its writer halted at the kill" : "on the killed silo") : "on a surviving silo";
            }

            // The halted sessions write back to back, so that the kill most likely cuts a write of theirs in the middle.
            var before = halted.ToDictionary(s => s.Id, s => s.Acknowledged, StringComparer.Ordinal);
            foreach (var session in halted)
            {
                session.Pace = TimeSpan.Zero;
            }
            await Wait.UntilAsync(() => Task.FromResult(halted.All(s => s.Acknowledged >= before[s.Id] + 20)), TimeSpan.FromSeconds(30),
                () => $"20 writes back to back by each halted session ({traffic.Summary()})");

            // Once the process is gone (a kill takes a moment on a loaded machine): a write acknowledged after this
            // was served by an activation that is not on the victim.
            await victim.KillAsync();
            var killedAt = Stopwatch.GetTimestamp();
            foreach (var session in halted)
            {
                session.Halted = true;
            }
            var sinceKill = Stopwatch.StartNew();
            var atKill = traffic.Acknowledged;
            await Wait.UntilAsync(() => Task.FromResult(traffic.AllAcknowledgedSince(killedAt)), TimeSpan.FromSeconds(60),
                () => $"a write acknowledged after the kill for every session still written ({traffic.Sessions.Count(s => !s.Halted && s.LastAcknowledgedStart <= killedAt)} not yet; {traffic.Summary()})\n{cluster.Logs()}");
            recovery = sinceKill.Elapsed;
            // A little more traffic on the recovered cluster.
            await Wait.UntilAsync(() => Task.FromResult(sinceKill.Elapsed > recovery + TimeSpan.FromSeconds(1) && traffic.Acknowledged > atKill + 300), TimeSpan.FromSeconds(60),
                () => $"300 writes acknowledged after the kill ({traffic.Acknowledged - atKill} so far)");
        }
        finally
        {
            await traffic.StopAsync();
        }
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: kill -9 of silo {victim.Index}: every session written again {recovery.TotalSeconds:F2} s after it; {traffic.Summary()}");

        var problems = await traffic.VerifyAsync(client);
        output.WriteLine($"{traffic.Sessions.Sum(s => s.Stored!.Messages.Count)} messages stored, {traffic.Sessions.Sum(s => s.Stored!.Trimmed)} trimmed by the bound");
        Assert.True(problems.Count == 0, $"{problems.Count} contradictions between what was acknowledged and what is stored:\n{string.Join('\n', problems.Take(30))}");
        Assert.True(!traffic.Unexpected.Any(), "failures not classified as transient:\n" + string.Join('\n', traffic.Unexpected.Take(10)));

        // The records are in storage where the check after the close looks for them.
        var stored = await RecordsAsync(traffic, provider);
        Assert.All(traffic.Sessions, s =>
        {
            Assert.True(stored.Any(r => r.Contains($"session-messages/{s.Id}/", StringComparison.Ordinal)), $"no message record of {s.Id} found in {provider}");
            Assert.True(stored.Any(r => r.Contains($"session-attributes/{s.Id}/", StringComparison.Ordinal)), $"no attributes record of {s.Id} found in {provider}");
        });
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: verified; {stored.Count} data records in {provider} before the close");

        // Close: half through the user's close-all (logout_all), half through the session (logout).
        await Parallel.ForEachAsync(Enumerable.Range(0, traffic.Sessions.Count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var session = traffic.Sessions[i];
            var grain = client.GetGrain<ISessionGrain>(session.Id);
            if (i % 2 == 0)
            {
                Assert.Equal(1, await Calls.RetryAsync(() => client.GetGrain<IUserSessionsGrain>(session.UserId).CloseAllAsync(), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30)));
            }
            else
            {
                Assert.Equal(SessionStatus.Closed, (await Calls.RetryAsync(() => grain.CloseAsync(), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30))).Status);
            }
            await Assert.ThrowsAsync<SessionDataDeletedException>(() => Calls.RetryAsync(() => grain.GetMessagesAsync(), TimeSpan.FromSeconds(30)));
            await Assert.ThrowsAsync<SessionDataDeletedException>(() => Calls.RetryAsync(() => grain.GetAttributesAsync(), TimeSpan.FromSeconds(30)));
        });

        // And in storage itself: the close deletes the records; one it could not delete the janitor (Janitor:Period 2 s)
        // finishes. A record the session's state does not list (a write cut off before its state) is no excuse.
        var closed = Stopwatch.StartNew();
        var left = stored;
        await Wait.UntilAsync(async () => (left = await RecordsAsync(traffic, provider)).Count == 0, TimeSpan.FromSeconds(20),
            () => $"no data record of the closed sessions left in {provider}; {left.Count} left:\n{traffic.Explain(left)}", TimeSpan.FromMilliseconds(500));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: no data record left in {provider} {closed.Elapsed.TotalSeconds:F2} s after the close");
    }

    /// <summary>
    /// A private PostgreSQL (pg_ctl restart -m fast) or Redis (appendfsync always; kill -9 and start again on its folder)
    /// restarted under chat traffic on one silo: once every session has been written again the silo is killed and a fresh
    /// silo reads every session from storage: no acknowledged append or attribute write is lost.
    /// </summary>
    [Theory]
    [InlineData("postgres")]
    [InlineData("redis")]
    public async Task A_storage_restart_under_chat_traffic_loses_no_acknowledged_data_write(string provider)
    {
        await using var postgres = provider == "postgres" ? await PrivatePostgres.StartAsync() : null;
        await using var redis = provider == "redis" ? await PrivateRedis.StartAsync() : null;
        var connectionString = postgres?.ConnectionString ?? redis!.ConnectionString;
        var settings = new Dictionary<string, string>
        {
            ["Sessions:IdleTimeout"] = "00:10:00",
            ["Sessions:ConversationLimit"] = "10000",
        };
        ChatTraffic traffic;
        await using (var cluster = await ProcessCluster.StartAsync(provider == "redis" ? "rdrst" : "drst", 1, settings, connectionString, provider))
        {
            traffic = await ChatTraffic.CreateAsync(cluster.Client, Enumerable.Range(0, 16).Select(i => $"{cluster.ClusterId}-u{i}"));
            traffic.Start(TimeSpan.FromMilliseconds(20));
            try
            {
                await Wait.UntilAsync(() => Task.FromResult(traffic.Sessions.All(s => s.AcknowledgedAppends >= 3 && s.AcknowledgedAttributeWrites >= 1)),
                    TimeSpan.FromSeconds(60), () => $"messages and attributes stored for every session ({traffic.Summary()})");
                var restart = Stopwatch.StartNew();
                if (postgres is not null)
                {
                    await postgres.RestartAsync();
                }
                else
                {
                    await redis!.CrashAndRestartAsync();
                }
                var restartedAt = Stopwatch.GetTimestamp();
                var down = restart.Elapsed;
                await Wait.UntilAsync(() => Task.FromResult(traffic.AllAcknowledgedSince(restartedAt)), TimeSpan.FromSeconds(60),
                    () => $"a write acknowledged after the restart for every session ({traffic.Sessions.Count(s => s.LastAcknowledgedStart <= restartedAt)} not yet; {traffic.Summary()})\n{cluster.Logs()}");
                output.WriteLine($"{provider} restarted in {down.TotalSeconds:F2} s; every session written again {restart.Elapsed.TotalSeconds:F2} s after the restart began");
            }
            finally
            {
                await traffic.StopAsync();
            }
            output.WriteLine(traffic.Summary());
            Assert.All(cluster.Silos, s => Assert.False(s.HasExited, s.Tail()));
        }

        // Read back from storage, not from the activations' memory: a fresh silo on the same server.
        await using var fresh = await ProcessCluster.StartAsync(provider == "redis" ? "rdrst2" : "drst2", 1, settings, connectionString, provider);
        var problems = await traffic.VerifyAsync(fresh.Client);
        output.WriteLine($"{traffic.Sessions.Sum(s => s.Stored!.Messages.Count)} messages read back by a fresh silo");
        Assert.True(problems.Count == 0, $"{problems.Count} contradictions between what was acknowledged and what is stored:\n{string.Join('\n', problems.Take(30))}");
        // A storage outage reaches callers as a classified, transient failure (SessionFailureKind.Unavailable, HTTP 503).
        Assert.True(!traffic.Unexpected.Any(), "failures not classified as transient:\n" + string.Join('\n', traffic.Unexpected.Take(10)));
    }

    private static Task<List<string>> RecordsAsync(ChatTraffic traffic, string provider)
        => provider == "redis"
            ? traffic.RedisRecordsAsync(ProcessCluster.DefaultRedisConnectionString.Split(',')[0])
            : traffic.PostgresRecordsAsync(ProcessCluster.DefaultConnectionString);
}
