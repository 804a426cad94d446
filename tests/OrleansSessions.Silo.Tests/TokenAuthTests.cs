using System.Net;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>Security:ApiToken guards every /api call.</summary>
public sealed class TokenAuthTests(TokenAuthTests.TokenSiloFixture fixture) : IClassFixture<TokenAuthTests.TokenSiloFixture>
{
    private const string Token = "s3cret-token-0123456789";

    /// <summary>A silo process with Security:ApiToken set.</summary>
    public sealed class TokenSiloFixture : IAsyncLifetime
    {
        internal SiloProcess Silo { get; private set; } = null!;

        public async Task InitializeAsync() => Silo = await SiloProcess.StartAsync($"--Security:ApiToken={Token}");

        public async Task DisposeAsync() => await Silo.DisposeAsync();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    [InlineData("s3cret-token-0123456789-and-more")]
    [InlineData("s3cret-token-012345678")]
    public async Task Api_calls_without_the_right_token_are_401_with_a_json_body(string? token)
    {
        using var http = fixture.Silo.Http(token);
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/api/cluster"), (HttpMethod.Post, "/api/sessions"), (HttpMethod.Get, "/api/events"), (HttpMethod.Post, "/api/janitor/run") })
        {
            using var request = new HttpRequestMessage(method, path) { Content = method == HttpMethod.Post ? Json("{\"userId\":\"u\"}") : null };
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            AssertError(await ReadJsonAsync(response), "unauthorized");
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        }
    }

    [Fact]
    public async Task Without_certificates_the_silo_warns_once_at_start_that_the_token_does_not_guard_the_gateway()
    {
        const string Warning = "Security:ApiToken guards the HTTP API only";
        await Wait.UntilAsync(() => Task.FromResult(fixture.Silo.Output.Contains(Warning, StringComparison.Ordinal)), TimeSpan.FromSeconds(15),
            "the warning about the unguarded gateway");
        var line = Assert.Single(fixture.Silo.Output.Split('\n'), l => l.Contains(Warning, StringComparison.Ordinal));
        Assert.Contains("warn:", line, StringComparison.Ordinal);
        Assert.Contains($"gateway port {fixture.Silo.GatewayPort}", line, StringComparison.Ordinal);
        Assert.Contains("Security:Certificate and Security:CaCertificate", line, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, fixture.Silo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_token_any_host_name_is_served()
    {
        using var http = fixture.Silo.Http(Token);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/cluster");
        request.Headers.Host = "sessions.example.com";
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Api_calls_with_the_token_succeed()
    {
        using var http = fixture.Silo.Http(Token);
        var created = await CreateAsync(http, "token-user");
        await SendAsync(http, HttpMethod.Get, $"/api/sessions/{created.GetProperty("sessionId").GetString()}", 200);
        await SendAsync(http, HttpMethod.Get, "/api/cluster", 200);
    }

    [Fact]
    public async Task The_token_may_come_as_access_token_query_only_on_GET_api_events()
    {
        using var http = fixture.Silo.Http();
        AssertError(await SendAsync(http, HttpMethod.Get, $"/api/cluster?access_token={Token}", 401), "unauthorized");
        AssertError(await SendAsync(http, HttpMethod.Post, $"/api/janitor/run?access_token={Token}", 401), "unauthorized");
        AssertError(await SendAsync(http, HttpMethod.Get, $"/api/users/u/sessions?access_token={Token}", 401), "unauthorized");
        await using var stream = await SseReader.OpenAsync(http, $"/api/events?access_token={Token}");
        Assert.Equal("text/event-stream", stream.ContentType);
    }

    [Fact]
    public async Task Healthz_and_the_dashboard_page_need_no_token()
    {
        using var http = fixture.Silo.Http();
        var health = await SendAsync(http, HttpMethod.Get, "/healthz", 200);
        // Without the token it reveals only the status, not the silo's address or start time.
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Single(health.EnumerateObject());
        using var authorized = fixture.Silo.Http(Token);
        Assert.True((await SendAsync(authorized, HttpMethod.Get, "/healthz", 200)).TryGetProperty("silo", out _));
        using var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }
}
