using System.Net.Http.Json;
using System.Text.Json;
using OrleansSessions.Testing;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>watch --after: the durable event log from a cursor, each event with its cursor, resumable.</summary>
public sealed class WatchLogTests
{
    private static async Task<List<JsonElement>> ReadEventsAsync(System.Diagnostics.Process process, int count, CancellationToken cancellationToken)
    {
        var events = new List<JsonElement>();
        while (events.Count < count)
        {
            var line = await process.StandardOutput.ReadLineAsync(cancellationToken) ?? throw new Xunit.Sdk.XunitException("watch ended early");
            events.Add(JsonDocument.Parse(line).RootElement.Clone());
        }
        return events;
    }

    private static string Describe(JsonElement e) => e.GetProperty("type").GetString() + " " + e.GetProperty("session").GetProperty("sessionId").GetString();

    [Fact]
    public async Task Watch_after_a_cursor_prints_each_later_event_once_with_its_cursor()
    {
        await using var silo = await SiloProcess.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.HttpPort}") };
        var user = Users.New("watchlog");
        async Task<string> CreateAsync()
        {
            using var response = await http.PostAsJsonAsync("/api/sessions", new { userId = user });
            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetString()!;
        }
        var first = await CreateAsync();
        (await http.DeleteAsync($"/api/sessions/{first}")).EnsureSuccessStatusCode();

        using var deadline = new CancellationTokenSource(SessionClusters.WaitLimit);
        List<JsonElement> replayed;
        using (var all = Start(["--gateway", silo.Gateway, "--json", "watch", "--user", user, "--after", "0"]))
        {
            try
            {
                replayed = await ReadEventsAsync(all, 2, deadline.Token);
            }
            finally
            {
                all.Kill(entireProcessTree: true);
            }
        }
        Assert.Equal(["created " + first, "closed " + first], replayed.Select(Describe));
        var cursor = replayed[0].GetProperty("cursor").GetString()!;
        Assert.StartsWith("v1:", cursor, StringComparison.Ordinal);

        using var resumed = Start(["--gateway", silo.Gateway, "--json", "watch", "--user", user, "--after", cursor]);
        try
        {
            var second = await CreateAsync();
            var events = await ReadEventsAsync(resumed, 2, deadline.Token);
            Assert.Equal(["closed " + first, "created " + second], events.Select(Describe));
            Assert.Equal(replayed[1].GetProperty("cursor").GetString(), events[0].GetProperty("cursor").GetString());
        }
        finally
        {
            resumed.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Watch_after_a_malformed_cursor_is_bad_input()
    {
        var result = await RunAsync(["--gateway", "127.0.0.1:1", "watch", "--after", "nonsense"]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("cursor", result.Stderr, StringComparison.Ordinal);
    }
}
