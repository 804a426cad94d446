using System.Diagnostics;
using System.Text.Json;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>kill -9 of one of two silos on PostgreSQL: detection, sessions answering again, the janitor ending orphans.</summary>
public sealed class FailoverTests
{
    [Fact]
    public async Task After_kill_9_the_survivor_answers_for_every_session_and_the_janitor_expires_the_orphans()
    {
        var clusterId = TestPostgres.NewClusterId("failover");
        string[] settings = TestPostgres.Settings(clusterId, "--Sessions:IdleTimeout=00:00:04", "--Sessions:WarningBefore=00:00:00");
        await using var survivor = await SiloProcess.StartAsync(settings);
        await using var victim = await SiloProcess.StartAsync(settings);
        using var http = survivor.Http();
        using var victimHttp = victim.Http();

        // Sessions created through the victim until it hosts some of them.
        var users = new List<string>();
        var ids = new List<string>();
        long onVictim = 0;
        var lastDeadline = DateTimeOffset.MinValue;
        for (var i = 0; i < 40 && (i < 4 || onVictim == 0); i++)
        {
            var user = NewUser("fo");
            users.Add(user);
            var created = await CreateAsync(victimHttp, user);
            ids.Add(created.GetProperty("sessionId").GetString()!);
            var deadline = created.GetProperty("expiresAt").GetDateTimeOffset();
            lastDeadline = deadline > lastDeadline ? deadline : lastDeadline;
            onVictim = await CreatedOnAsync(http, victim.Address);
        }
        Assert.True(onVictim > 0, "no session was hosted on the victim");

        victim.Kill();
        var killed = Stopwatch.StartNew();
        await Wait.UntilAsync(async () => await StatusOfAsync(http, victim.Address) == "dead", TimeSpan.FromSeconds(20), "the killed silo declared dead");
        var detected = killed.Elapsed;
        Assert.True(detected < TimeSpan.FromSeconds(10), $"the killed silo was declared dead after {detected}");

        // Past every deadline, with nobody touching the victim's sessions: only the janitor can end them.
        await WaitUntilAsync(lastDeadline);
        var expired = 0;
        await Wait.UntilAsync(async () =>
        {
            using var response = await http.PostAsync("/api/janitor/run", null);
            if ((int)response.StatusCode == 503)
            {
                return false;
            }
            var body = await ReadJsonAsync(response);
            Assert.True(response.IsSuccessStatusCode, body.ToString());
            expired += body.GetProperty("expired").GetInt32();
            return true;
        }, TimeSpan.FromSeconds(30), "a janitor run on the survivor");
        Assert.True(expired >= 1, $"the janitor expired {expired} sessions; {onVictim} were hosted on the killed silo");

        // None lost: every session answers on the survivor, ended once by its idle timeout, and is in its user's history.
        for (var i = 0; i < ids.Count; i++)
        {
            var session = await SendAsync(http, HttpMethod.Get, $"/api/sessions/{ids[i]}", 200);
            Assert.Equal("expired", session.GetProperty("status").GetString());
            Assert.Equal("idle_timeout", session.GetProperty("endReason").GetString());
            var (user, id) = (users[i], ids[i]);
            await Wait.UntilAsync(async () =>
            {
                var history = await SendAsync(http, HttpMethod.Get, $"/api/users/{user}/history", 200);
                return history.GetArrayLength() == 1 && history[0].GetProperty("sessionId").GetString() == id;
            }, TimeSpan.FromSeconds(10), $"{id} once in the history of {user}");
        }
    }

    private static async Task<JsonElement?> SiloAsync(HttpClient http, string address)
    {
        var cluster = await SendAsync(http, HttpMethod.Get, "/api/cluster", 200);
        foreach (var silo in cluster.GetProperty("silos").EnumerateArray())
        {
            if (silo.GetProperty("address").GetString() == address)
            {
                return silo;
            }
        }
        return null;
    }

    private static async Task<string?> StatusOfAsync(HttpClient http, string address)
        => (await SiloAsync(http, address))?.GetProperty("status").GetString();

    private static async Task<long> CreatedOnAsync(HttpClient http, string address)
        => (await SiloAsync(http, address)) is { } silo && silo.GetProperty("created").ValueKind == JsonValueKind.Number ? silo.GetProperty("created").GetInt64() : 0;
}
