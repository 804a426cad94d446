using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>Time-dependent answers of the API, on a manual grain clock (Sessions:MaxPerUser=1, Reject).</summary>
public sealed class ExpiryApiTests(ManualClockApiFixture fixture) : IClassFixture<ManualClockApiFixture>
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Seed_timeline_touch_at_14_15_keeps_the_session_until_14_45_then_409_expired()
    {
        var created = await CreateAsync(_http, NewUser("timeline"));
        var id = created.GetProperty("sessionId").GetString();
        var start = created.GetProperty("createdAt").GetDateTimeOffset();

        fixture.Clock.Advance(TimeSpan.FromMinutes(15));
        var touched = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/touch", 200);
        Assert.Equal(start + TimeSpan.FromMinutes(45), touched.GetProperty("expiresAt").GetDateTimeOffset());

        fixture.Clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal("active", (await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200)).GetProperty("status").GetString());

        fixture.Clock.Advance(TimeSpan.FromMinutes(6));
        AssertError(await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/touch", 409), "session_expired");
        var ended = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        Assert.Equal("expired", ended.GetProperty("status").GetString());
        Assert.Equal("idle_timeout", ended.GetProperty("endReason").GetString());
        Assert.Equal(start + TimeSpan.FromMinutes(45), ended.GetProperty("endedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task Create_over_the_limit_under_Reject_is_409_session_limit_exceeded()
    {
        var user = NewUser("limit");
        await CreateAsync(_http, user);
        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 409, $"{{\"userId\":\"{user}\"}}"), "session_limit_exceeded");
    }

    [Fact]
    public async Task Janitor_run_expires_a_session_whose_activation_is_gone()
    {
        var user = NewUser("janitor");
        var id = (await CreateAsync(_http, user)).GetProperty("sessionId").GetString();
        await fixture.Cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        fixture.Clock.Advance(TimeSpan.FromMinutes(31));

        var run = await SendAsync(_http, HttpMethod.Post, "/api/janitor/run", 200);
        Assert.True(run.GetProperty("expired").GetInt32() >= 1, run.ToString());
        var history = await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/history", 200);
        var ended = Assert.Single(history.EnumerateArray());
        Assert.Equal(id, ended.GetProperty("sessionId").GetString());
        Assert.Equal("idle_timeout", ended.GetProperty("endReason").GetString());
    }
}
