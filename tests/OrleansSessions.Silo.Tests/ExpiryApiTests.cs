using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>Time-dependent answers of the API on real time: a 2 s idle timeout, Sessions:MaxPerUser=1 with Reject.</summary>
[Collection(ShortTimeoutSiloCollection.Name)]
public sealed class ExpiryApiTests(ShortTimeoutSiloFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Touch_slides_the_deadline_and_after_it_the_session_is_expired_with_idle_timeout()
    {
        var created = await CreateAsync(_http, NewUser("timeline"));
        var id = created.GetProperty("sessionId").GetString();
        Assert.Equal(ShortTimeoutSiloFixture.IdleTimeout, created.GetProperty("expiresAt").GetDateTimeOffset() - created.GetProperty("createdAt").GetDateTimeOffset());

        // Halfway through, a touch moves the deadline to a full idle timeout after the touch.
        await WaitUntilAsync(created.GetProperty("createdAt").GetDateTimeOffset() + ShortTimeoutSiloFixture.IdleTimeout / 2);
        var touched = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/touch", 200);
        var deadline = touched.GetProperty("expiresAt").GetDateTimeOffset();
        Assert.Equal(touched.GetProperty("lastActivity").GetDateTimeOffset() + ShortTimeoutSiloFixture.IdleTimeout, deadline);
        Assert.True(deadline > created.GetProperty("expiresAt").GetDateTimeOffset());

        // Past the first deadline, before the new one: still active.
        await WaitUntilAsync(created.GetProperty("expiresAt").GetDateTimeOffset());
        if (DateTimeOffset.UtcNow < deadline - TimeSpan.FromMilliseconds(200))
        {
            Assert.Equal("active", (await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200)).GetProperty("status").GetString());
        }

        // Past the new deadline: a touch is refused, whether or not the timer has fired yet.
        await WaitUntilAsync(deadline);
        AssertError(await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/touch", 409), "session_expired");
        var ended = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        Assert.Equal("expired", ended.GetProperty("status").GetString());
        Assert.Equal("idle_timeout", ended.GetProperty("endReason").GetString());
        Assert.Equal(deadline, ended.GetProperty("endedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task An_untouched_session_expires_on_its_own_and_lands_in_history()
    {
        var user = NewUser("idle");
        var created = await CreateAsync(_http, user);
        var id = created.GetProperty("sessionId").GetString();
        // Without any call: the grain's own timer ends it and records it in the user's history.
        await Wait.UntilAsync(async () =>
        {
            var history = await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/history", 200);
            return history.GetArrayLength() == 1;
        }, TimeSpan.FromSeconds(15), "the expired session in the user's history");
        var ended = Assert.Single((await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/history", 200)).EnumerateArray());
        Assert.Equal(id, ended.GetProperty("sessionId").GetString());
        Assert.Equal("expired", ended.GetProperty("status").GetString());
        Assert.Equal("idle_timeout", ended.GetProperty("endReason").GetString());
        Assert.Equal(0, (await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200)).GetArrayLength());
    }

    [Fact]
    public async Task Create_over_the_limit_under_Reject_is_409_session_limit_exceeded()
    {
        var user = NewUser("limit");
        await CreateAsync(_http, user);
        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 409, $"{{\"userId\":\"{user}\"}}"), "session_limit_exceeded");
    }
}
