using System.Text.Json;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>GET /api/events on real time: a 2 s idle timeout with a 1 s warning, timers real.</summary>
[Collection(ShortTimeoutSiloCollection.Name)]
public sealed class EventStreamTests(ShortTimeoutSiloFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Stream_shows_created_expiring_expired_for_the_users_session_only()
    {
        var user = NewUser("sse");
        await using var stream = await SseReader.OpenAsync(_http, $"/api/events?userId={user}");

        await CreateAsync(_http, NewUser("other"));
        var created = await CreateAsync(_http, user);
        var id = created.GetProperty("sessionId").GetString();

        var events = await stream.ReadEventsUntilAsync(e => e.Any(x => x.GetProperty("type").GetString() == "expired"), TimeSpan.FromSeconds(20));

        Assert.Equal(new[] { "created", "expiring", "expired" }, events.Select(e => e.GetProperty("type").GetString()!).ToArray());
        Assert.All(events, e =>
        {
            Assert.Equal(id, e.GetProperty("session").GetProperty("sessionId").GetString());
            Assert.Equal(user, e.GetProperty("session").GetProperty("userId").GetString());
            Assert.EndsWith("Z", e.GetProperty("at").GetString(), StringComparison.Ordinal);
            Assert.Equal(3, e.EnumerateObject().Count());
            Assert.Equal(14, e.GetProperty("session").EnumerateObject().Count());
        });
        var expired = events[2];
        Assert.Equal("expired", expired.GetProperty("session").GetProperty("status").GetString());
        Assert.Equal("idle_timeout", expired.GetProperty("session").GetProperty("endReason").GetString());
        var deadlineAt = created.GetProperty("expiresAt").GetDateTimeOffset();
        Assert.True(events[1].GetProperty("at").GetDateTimeOffset() >= deadlineAt - TimeSpan.FromSeconds(1));
        Assert.True(expired.GetProperty("at").GetDateTimeOffset() >= deadlineAt);
    }

    [Fact]
    public async Task Stream_shows_created_then_closed_on_logout()
    {
        var user = NewUser("logout");
        await using var stream = await SseReader.OpenAsync(_http, $"/api/events?userId={user}");
        var id = (await CreateAsync(_http, user)).GetProperty("sessionId").GetString();
        await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{id}", 200);

        var events = await stream.ReadEventsUntilAsync(e => e.Any(x => x.GetProperty("type").GetString() == "closed"), TimeSpan.FromSeconds(10));
        Assert.Equal(new[] { "created", "closed" }, events.Select(e => e.GetProperty("type").GetString()!).ToArray());
        Assert.Equal("logout", events[1].GetProperty("session").GetProperty("endReason").GetString());
        Assert.All(events, e => Assert.Equal(id, e.GetProperty("session").GetProperty("sessionId").GetString()));
    }

    [Fact]
    public async Task Stream_is_text_event_stream_with_a_heartbeat_comment_every_15_seconds()
    {
        await using var stream = await SseReader.OpenAsync(_http, "/api/events");
        Assert.Equal("text/event-stream", stream.ContentType);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await stream.NextCommentAsync("heartbeat", deadline.Token);
    }

    [Fact]
    public async Task Stream_with_a_malformed_user_filter_is_400()
        => AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/events?userId={Uri.EscapeDataString("a\u0001")}", 400), "invalid_user_id");
}
