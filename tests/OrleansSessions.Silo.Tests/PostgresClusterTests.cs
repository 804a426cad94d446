using System.Text.Json;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>Two silo processes on PostgreSQL forming one cluster: the cluster view and events across silos.</summary>
[Collection(PostgresClusterCollection.Name)]
public sealed class PostgresClusterTests(PostgresClusterFixture fixture)
{
    [Fact]
    public async Task Cluster_lists_both_silos_with_activations_ports_and_session_figures()
    {
        using var first = fixture.First.Http();
        using var second = fixture.Second.Http();
        await CreateAsync(second, NewUser("cluster"));

        JsonElement cluster = default;
        await Wait.UntilAsync(async () =>
        {
            cluster = await SendAsync(first, HttpMethod.Get, "/api/cluster", 200);
            return cluster.GetProperty("silos").EnumerateArray().Count(s => s.GetProperty("status").GetString() == "active") == 2
                && cluster.GetProperty("sessions").GetProperty("reportingSilos").GetInt32() == 2;
        }, TimeSpan.FromSeconds(15), "both silos active and reporting");

        var silos = cluster.GetProperty("silos").EnumerateArray().Where(s => s.GetProperty("status").GetString() == "active").ToList();
        foreach (var process in new[] { fixture.First, fixture.Second })
        {
            var silo = Assert.Single(silos, s => s.GetProperty("address").GetString() == process.Address);
            Assert.Equal(process.GatewayPort, silo.GetProperty("gatewayPort").GetInt32());
            Assert.Equal(process.HttpPort, silo.GetProperty("httpPort").GetInt32());
            Assert.True(silo.GetProperty("activations").GetInt32() > 0);
            Assert.Equal(silo.GetProperty("created").GetInt64() - silo.GetProperty("ended").GetInt64(), silo.GetProperty("live").GetInt64());
        }
        var sessions = cluster.GetProperty("sessions");
        Assert.Equal(silos.Sum(s => s.GetProperty("created").GetInt64()), sessions.GetProperty("created").GetInt64());
        Assert.Equal(silos.Sum(s => s.GetProperty("live").GetInt64()), sessions.GetProperty("live").GetInt64());
        Assert.True(sessions.GetProperty("created").GetInt64() >= 1);
    }

    [Fact]
    public async Task Every_event_reaches_the_streams_of_both_silos_once_and_in_order_per_session()
    {
        using var first = fixture.First.Http();
        using var second = fixture.Second.Http();
        var prefix = NewUser("x");
        await using var onFirst = await SseReader.OpenAsync(first, "/api/events");
        await using var onSecond = await SseReader.OpenAsync(second, "/api/events");

        // Sessions are created until both silos host some (Sessions:MaxPerUser=1,
        // EvictOldest: each user's second session evicts the first), then each user logs out.
        var before = await CreatedPerSiloAsync(first);
        var users = new List<string>();
        var sessions = new Dictionary<string, string[]>(StringComparer.Ordinal);
        for (var i = 0; i < 40; i++)
        {
            var user = $"{prefix}-{i}";
            users.Add(user);
            // Through both silos in turn: placement prefers the silo a call comes from.
            var via = i % 2 == 0 ? second : first;
            var evicted = (await CreateAsync(via, user)).GetProperty("sessionId").GetString()!;
            var current = (await CreateAsync(via, user)).GetProperty("sessionId").GetString()!;
            await SendAsync(via, HttpMethod.Delete, $"/api/sessions/{current}", 200);
            sessions[evicted] = ["created", "evicted"];
            sessions[current] = ["created", "closed"];
            if (i >= 3)
            {
                var after = await CreatedPerSiloAsync(first);
                if (after.All(kv => kv.Value > before.GetValueOrDefault(kv.Key)) && after.Count == 2)
                {
                    break;
                }
            }
        }
        // Orleans' placement decides where the sessions live; usually both silos host some, but not always. Either way
        // every event must reach the SSE endpoints of both silos, so at least one of them receives events published
        // on the other silo.
        var hosts = await CreatedPerSiloAsync(first);
        Assert.Equal(2, hosts.Count);
        Assert.True(hosts.Any(kv => kv.Value > before.GetValueOrDefault(kv.Key)), "no session was created: " + string.Join(", ", hosts));

        foreach (var stream in new[] { onFirst, onSecond })
        {
            var ours = new List<JsonElement>();
            var expected = sessions.Values.Sum(v => v.Length);
            await stream.ReadEventsUntilAsync(events =>
            {
                ours.Clear();
                ours.AddRange(events.Where(e => e.GetProperty("session").GetProperty("userId").GetString()!.StartsWith(prefix + "-", StringComparison.Ordinal)));
                return ours.Count >= expected;
            }, TimeSpan.FromSeconds(30));
            foreach (var (id, types) in sessions)
            {
                var seen = ours.Where(e => e.GetProperty("session").GetProperty("sessionId").GetString() == id).Select(e => e.GetProperty("type").GetString()!).ToArray();
                Assert.Equal(types, seen);
            }
        }
    }

    private static async Task<Dictionary<string, long>> CreatedPerSiloAsync(HttpClient http)
    {
        var cluster = await SendAsync(http, HttpMethod.Get, "/api/cluster", 200);
        return cluster.GetProperty("silos").EnumerateArray()
            .Where(s => s.GetProperty("status").GetString() == "active" && s.GetProperty("created").ValueKind == JsonValueKind.Number)
            .ToDictionary(s => s.GetProperty("address").GetString()!, s => s.GetProperty("created").GetInt64(), StringComparer.Ordinal);
    }
}
