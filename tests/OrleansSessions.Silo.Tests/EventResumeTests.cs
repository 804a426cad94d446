using System.Net;
using System.Text.Json;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>GET /api/events resumes from a cursor: Last-Event-ID or ?after= replays the event log, then goes live.</summary>
[Collection(ShortTimeoutSiloCollection.Name)]
public sealed class EventResumeTests(ShortTimeoutSiloFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    // Sessions on this silo expire after 2 s idle: a close may find one expired, and either is its one end.
    private static string Key(JsonElement e) => e.GetProperty("type").GetString() switch
    {
        "closed" or "expired" => "ended",
        var type => type,
    } + " " + e.GetProperty("session").GetProperty("sessionId").GetString();

    [Fact]
    public async Task Each_event_has_a_cursor_and_resuming_after_one_replays_the_rest_then_continues_live()
    {
        var user = NewUser("resume");
        List<JsonElement> first;
        string cursor;
        string second;
        await using (var stream = await SseReader.OpenAsync(_http, $"/api/events?userId={user}"))
        {
            // One live session per user on this silo (Sessions:MaxPerUser=1): each is closed before the next.
            var a = await CreateAsync(_http, user);
            await _http.DeleteAsync($"/api/sessions/{a.GetProperty("sessionId").GetString()}");
            second = (await CreateAsync(_http, user)).GetProperty("sessionId").GetString()!;
            first = await stream.ReadEventsUntilAsync(e => e.Any(x => Key(x) == "created " + second), TimeSpan.FromSeconds(20));
            Assert.All(stream.Ids, id => Assert.StartsWith("v1:", id, StringComparison.Ordinal));
            Assert.Equal(stream.Ids.Count, stream.Ids.Distinct().Count());
            cursor = stream.Ids[0]!;
        }

        // Disconnected after the first event: the replay is exactly the events after it, then new ones come live.
        await using var resumed = await SseReader.OpenAsync(_http, $"/api/events?userId={user}", lastEventId: cursor);
        var replayed = await resumed.ReadEventsUntilAsync(e => e.Count >= first.Count - 1, TimeSpan.FromSeconds(20));
        Assert.Equal(first.Skip(1).Select(Key), replayed.Take(first.Count - 1).Select(Key));
        await _http.DeleteAsync($"/api/sessions/{second}");
        var third = (await CreateAsync(_http, user)).GetProperty("sessionId").GetString();
        var live = await resumed.ReadEventsUntilAsync(e => e.Any(x => Key(x) == "created " + third), TimeSpan.FromSeconds(20));
        var all = replayed.Concat(live).Select(Key).Where(k => !k.StartsWith("expiring", StringComparison.Ordinal)).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        var firstId = first[0].GetProperty("session").GetProperty("sessionId").GetString();
        Assert.Equal(["ended " + firstId, "created " + second, "ended " + second, "created " + third], all);
    }

    [Fact]
    public async Task After_zero_replays_every_retained_event_of_the_user()
    {
        var user = NewUser("replay");
        var created = await CreateAsync(_http, user);
        var id = created.GetProperty("sessionId").GetString();
        await _http.DeleteAsync($"/api/sessions/{id}");

        await using var stream = await SseReader.OpenAsync(_http, $"/api/events?userId={user}&after=0");
        var events = await stream.ReadEventsUntilAsync(e => e.Any(x => Key(x) == "ended " + id), TimeSpan.FromSeconds(20));
        Assert.Equal(["created " + id, "ended " + id], events.Select(Key).Where(k => !k.StartsWith("expiring", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("v1:1.2")]
    [InlineData("v1:x")]
    public async Task A_malformed_cursor_is_refused_with_invalid_cursor(string cursor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/events");
        request.Headers.Add("Last-Event-ID", cursor);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("invalid_cursor", body.RootElement.GetProperty("error").GetString());
    }
}

/// <summary>A cursor whose next events the log no longer holds is refused with 410 and the oldest cursor held.</summary>
public sealed class EventCursorExpiryTests
{
    [Fact]
    public async Task A_cursor_past_what_the_log_holds_is_410_cursor_expired_with_the_oldest_cursor()
    {
        // One partition holding two events: the third event trims the first.
        await using var silo = await SiloProcess.StartAsync("--Janitor:Partitions=1", "--Events:MemoryLimit=2");
        using var http = silo.Http();
        var user = NewUser("expiry");
        var first = (await CreateAsync(http, user)).GetProperty("sessionId").GetString();
        string cursor;
        await using (var stream = await SseReader.OpenAsync(http, $"/api/events?userId={user}&after=0"))
        {
            await stream.ReadEventsUntilAsync(e => e.Count == 1, TimeSpan.FromSeconds(20));
            cursor = stream.LastId!;
        }

        for (var i = 0; i < 3; i++)
        {
            await CreateAsync(http, NewUser("expiry-more"));
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/events");
        request.Headers.Add("Last-Event-ID", cursor);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("cursor_expired", body.RootElement.GetProperty("error").GetString());
        var oldest = body.RootElement.GetProperty("oldestCursor").GetString()!;

        // From the oldest cursor held, the two events the log still has come back.
        await using var resumed = await SseReader.OpenAsync(http, "/api/events?after=" + Uri.EscapeDataString(oldest));
        var events = await resumed.ReadEventsUntilAsync(e => e.Count == 2, TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(events, e => e.GetProperty("session").GetProperty("sessionId").GetString() == first);
    }
}
