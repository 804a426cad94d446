using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using OrleansSessions.Sessions;
using OrleansSessions.Testing;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>Logout everywhere after kill -9s cut creates off: no session stays live that its user's list does not hold.</summary>
[Collection(ProcessCollection.Name)]
public sealed class LogoutAllTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Close_all_after_a_kill_during_creates_leaves_no_live_session()
    {
        await using var cluster = await ProcessCluster.StartAsync("logoutall", 3);
        var client = cluster.Client;
        // Enough users that several of their grains live on the silo that is killed, each in the middle of a create.
        var users = Enumerable.Range(0, 24).Select(i => $"{cluster.ClusterId}-u{i}").ToArray();
        var acknowledged = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var failed = 0;
        using var stop = new CancellationTokenSource();
        var creators = users.Select(user => Task.Run(async () =>
        {
            var grain = client.GetGrain<IUserSessionsGrain>(user);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var info = await grain.CreateSessionAsync().WaitAsync(TimeSpan.FromSeconds(5));
                    acknowledged[info.SessionId] = user;
                }
                catch (Exception ex) when (Calls.IsTransient(ex))
                {
                    Interlocked.Increment(ref failed);
                    await Task.Delay(20);
                }
            }
        })).ToArray();

        await Wait.UntilAsync(() => Task.FromResult(acknowledged.Count >= 200), TimeSpan.FromSeconds(60), "200 sessions created before the kill");
        await cluster.Silos[1].KillAsync();
        var sinceKill = Stopwatch.StartNew();
        var atKill = acknowledged.Count;
        // Creates keep going while the cluster notices the death and moves the users' grains elsewhere.
        await Wait.UntilAsync(() => Task.FromResult(acknowledged.Count >= atKill + 200), TimeSpan.FromSeconds(60), $"200 creates after the kill ({acknowledged.Count - atKill} so far)\n{cluster.Logs()}");
        await stop.CancelAsync();
        await Task.WhenAll(creators);
        output.WriteLine($"{acknowledged.Count} creates acknowledged, {failed} failed or cut off; recovery and 200 more creates took {sinceKill.Elapsed.TotalSeconds:F1} s");

        var closed = 0;
        foreach (var user in users)
        {
            closed += await Calls.RetryAsync(() => client.GetGrain<IUserSessionsGrain>(user).CloseAllAsync(), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30));
        }
        Assert.True(closed >= acknowledged.Count, $"close-all ended {closed} sessions, fewer than the {acknowledged.Count} acknowledged");

        // The durable deadline index holds a row for every stored live session, whichever user list it is in.
        var stillLive = new List<string>();
        foreach (var (sessionId, userId) in await IndexRowsAsync(cluster.ClusterId))
        {
            try
            {
                var info = await Calls.RetryAsync(() => client.GetGrain<ISessionGrain>(sessionId).GetAsync().AsTask(), TimeSpan.FromSeconds(30));
                if (info.Status == SessionStatus.Active)
                {
                    stillLive.Add($"{sessionId} of {userId} (acknowledged: {acknowledged.ContainsKey(sessionId)})");
                }
            }
            catch (SessionNotFoundException)
            {
                // A row written before a create that was cut off stored nothing: no session.
            }
        }
        Assert.True(stillLive.Count == 0, $"{stillLive.Count} sessions still live after every user's close-all:\n{string.Join('\n', stillLive)}");
        foreach (var user in users)
        {
            Assert.Empty(await Calls.RetryAsync(() => client.GetGrain<IUserSessionsGrain>(user).GetActiveSessionsAsync(), TimeSpan.FromSeconds(30)));
        }
    }

    /// <summary>The sessions' rows of the deadline index (not the users' history-retention rows, "history:" + user id).</summary>
    private static async Task<List<(string SessionId, string UserId)>> IndexRowsAsync(string clusterId)
    {
        await using var connection = new NpgsqlConnection(ProcessCluster.DefaultConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT session_id, user_id FROM orleanssessions_deadlines WHERE user_id LIKE @prefix AND session_id LIKE 'sess\\_%'", connection);
        command.Parameters.AddWithValue("prefix", clusterId + "-u%");
        var rows = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetString(1)));
        }
        return rows;
    }
}
