using System.Net;
using System.Text.Json;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>Every endpoint and error code of the HTTP API, on the silo host with the in-memory default (in the test process).</summary>
[Collection(SiloAppCollection.Name)]
public sealed class SessionApiTests(SiloAppFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Create_returns_201_with_location_and_the_full_session_info()
    {
        var user = NewUser("create");
        using var response = await _http.PostAsync("/api/sessions", Json($"{{\"userId\":\"{user}\"}}"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var session = await ReadJsonAsync(response);
        var id = session.GetProperty("sessionId").GetString()!;
        Assert.Matches("^sess_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", id);
        Assert.Equal($"/api/sessions/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(user, session.GetProperty("userId").GetString());
        Assert.Equal("active", session.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, session.GetProperty("endedAt").ValueKind);
        Assert.Equal(JsonValueKind.Null, session.GetProperty("endReason").ValueKind);
        foreach (var name in new[] { "createdAt", "lastActivity", "expiresAt" })
        {
            var text = session.GetProperty(name).GetString()!;
            Assert.EndsWith("Z", text, StringComparison.Ordinal);
            Assert.Equal(TimeSpan.Zero, DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture).Offset);
        }
        var created = session.GetProperty("createdAt").GetDateTimeOffset();
        Assert.Equal(TimeSpan.FromMinutes(30), session.GetProperty("expiresAt").GetDateTimeOffset() - created);
        Assert.Equal(14, session.EnumerateObject().Count());
    }

    [Fact]
    public async Task Create_with_the_same_idempotency_key_returns_the_same_session()
    {
        var user = NewUser("idem");
        var key = Guid.NewGuid().ToString();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/sessions") { Content = Json($"{{\"userId\":\"{user}\"}}") };
            request.Headers.Add("Idempotency-Key", key);
            using var response = await _http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            ids.Add((await ReadJsonAsync(response)).GetProperty("sessionId").GetString()!);
        }
        Assert.Single(ids.Distinct());
        var live = await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200);
        Assert.Equal(ids[0], Assert.Single(live.EnumerateArray()).GetProperty("sessionId").GetString());

        // Without the header every create is a new session.
        using var plain = await _http.PostAsync("/api/sessions", Json($"{{\"userId\":\"{user}\"}}"));
        Assert.NotEqual(ids[0], (await ReadJsonAsync(plain)).GetProperty("sessionId").GetString());
    }

    // An empty Idempotency-Key is in HardeningTests, on a silo process: TestServer's header dictionary drops empty values.
    [Theory]
    [InlineData("has space")]
    public async Task Create_with_an_invalid_idempotency_key_is_400(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/sessions") { Content = Json($"{{\"userId\":\"{NewUser("idem-bad")}\"}}") };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_idempotency_key", (await ReadJsonAsync(response)).GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("{bad", "invalid_json")]
    [InlineData("", "invalid_json")]
    [InlineData("[]", "invalid_json")]
    [InlineData("{\"userId\": 5}", "invalid_json")]
    [InlineData("{}", "missing_user_id")]
    [InlineData("null", "missing_user_id")]
    [InlineData("{\"userId\": \"\"}", "invalid_user_id")]
    [InlineData("{\"userId\": \"a\\u0001b\"}", "invalid_user_id")]
    public async Task Create_with_a_bad_body_is_400_with_an_error_code(string body, string code)
    {
        var error = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 400, body);
        AssertError(error, code);
    }

    [Fact]
    public async Task Create_with_a_too_long_user_id_is_400()
        => AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 400, JsonSerializer.Serialize(new { userId = new string('u', 129) })), "invalid_user_id");

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData(null)]
    public async Task Post_with_a_body_that_is_not_declared_application_json_is_415(string? contentType)
    {
        // The "simple" content types a page of any site can send cross-origin without a preflight.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/sessions") { Content = new ByteArrayContent("{\"userId\":\"plain-text-caller\"}"u8.ToArray()) };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var body = await ReadJsonAsync(response);
        AssertError(body, "unsupported_media_type");
        Assert.Equal("A POST to /api needs 'Content-Type: application/json' (or no body at all).", body.GetProperty("detail").GetString());
        // A bodiless POST (touch, janitor/run) needs no content type.
        await SendAsync(_http, HttpMethod.Post, "/api/janitor/run", 200);
    }

    [Fact]
    public async Task Get_returns_the_session_and_404_or_400_otherwise()
    {
        var created = await CreateAsync(_http, NewUser("get"));
        var id = created.GetProperty("sessionId").GetString();
        var read = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        Assert.Equal(created.GetProperty("createdAt").GetString(), read.GetProperty("createdAt").GetString());
        Assert.Equal("active", read.GetProperty("status").GetString());

        AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/sess_{Guid.NewGuid():D}", 404), "session_not_found");
        AssertError(await SendAsync(_http, HttpMethod.Get, "/api/sessions/not-a-session", 400), "invalid_session_id");
        AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/sess_{Guid.NewGuid().ToString("D").ToUpperInvariant()}", 400), "invalid_session_id");
    }

    [Fact]
    public async Task Touch_slides_the_deadline_and_answers_409_closed_after_logout()
    {
        var created = await CreateAsync(_http, NewUser("touch"));
        var id = created.GetProperty("sessionId").GetString();
        var touched = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/touch", 200);
        Assert.True(touched.GetProperty("lastActivity").GetDateTimeOffset() >= created.GetProperty("lastActivity").GetDateTimeOffset());
        Assert.Equal(TimeSpan.FromMinutes(30), touched.GetProperty("expiresAt").GetDateTimeOffset() - touched.GetProperty("lastActivity").GetDateTimeOffset());

        await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{id}", 200);
        AssertError(await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/touch", 409), "session_closed");
        AssertError(await SendAsync(_http, HttpMethod.Post, $"/api/sessions/sess_{Guid.NewGuid():D}/touch", 404), "session_not_found");
        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions/sess_123/touch", 400), "invalid_session_id");
    }

    [Fact]
    public async Task Delete_closes_with_logout_is_idempotent_and_404_for_unknown()
    {
        var id = (await CreateAsync(_http, NewUser("close"))).GetProperty("sessionId").GetString();
        var closed = await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{id}", 200);
        Assert.Equal("closed", closed.GetProperty("status").GetString());
        Assert.Equal("logout", closed.GetProperty("endReason").GetString());
        Assert.EndsWith("Z", closed.GetProperty("endedAt").GetString(), StringComparison.Ordinal);

        var again = await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{id}", 200);
        Assert.Equal(closed.GetProperty("endedAt").GetString(), again.GetProperty("endedAt").GetString());
        var read = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        Assert.Equal("closed", read.GetProperty("status").GetString());

        AssertError(await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/sess_{Guid.NewGuid():D}", 404), "session_not_found");
        AssertError(await SendAsync(_http, HttpMethod.Delete, "/api/sessions/x", 400), "invalid_session_id");
    }

    [Fact]
    public async Task User_sessions_lists_live_sessions_oldest_first()
    {
        var user = NewUser("list");
        var first = (await CreateAsync(_http, user)).GetProperty("sessionId").GetString();
        var second = (await CreateAsync(_http, user)).GetProperty("sessionId").GetString();
        var third = (await CreateAsync(_http, user)).GetProperty("sessionId").GetString();
        await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{second}", 200);

        var live = await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200);
        Assert.Equal(new[] { first, third }, live.EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()).ToArray());
        Assert.All(live.EnumerateArray(), s => Assert.Equal("active", s.GetProperty("status").GetString()));

        var nobody = await SendAsync(_http, HttpMethod.Get, $"/api/users/{NewUser("nobody")}/sessions", 200);
        Assert.Equal(0, nobody.GetArrayLength());
        AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/users/{new string('x', 129)}/sessions", 400), "invalid_user_id");
    }

    [Fact]
    public async Task History_is_newest_first_and_honours_limit()
    {
        var user = NewUser("history");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var id = (await CreateAsync(_http, user)).GetProperty("sessionId").GetString()!;
            await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{id}", 200);
            ids.Add(id);
        }
        var history = await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/history", 200);
        Assert.Equal(Enumerable.Reverse(ids).ToArray(), history.EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()).ToArray());
        Assert.All(history.EnumerateArray(), s => Assert.Equal("logout", s.GetProperty("endReason").GetString()));

        var limited = await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/history?limit=2", 200);
        Assert.Equal(new[] { ids[2], ids[1] }, limited.EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()).ToArray());
        Assert.Equal(0, (await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/history?limit=0", 200)).GetArrayLength());
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("10001")]
    [InlineData("99999999999999")]
    public async Task History_with_a_bad_limit_is_400(string limit)
        => AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/users/someone/history?limit={Uri.EscapeDataString(limit)}", 400), "invalid_limit");

    [Fact]
    public async Task User_sessions_are_paged_with_limit_and_after_and_say_the_total_and_the_next_page()
    {
        var user = NewUser("paged");
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await CreateAsync(_http, user)).GetProperty("sessionId").GetString()!);
        }

        using var first = await _http.GetAsync($"/api/users/{user}/sessions?limit=2");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(ids.Take(2), (await ReadJsonAsync(first)).EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()));
        Assert.Equal("5", Assert.Single(first.Headers.GetValues("X-Total-Count")));
        var link = Assert.Single(first.Headers.GetValues("Link"));
        Assert.Equal($"</api/users/{user}/sessions?limit=2&after={ids[1]}>; rel=\"next\"", link);

        using var last = await _http.GetAsync($"/api/users/{user}/sessions?limit=2&after={ids[3]}");
        Assert.Equal([ids[4]], (await ReadJsonAsync(last)).EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()));
        Assert.False(last.Headers.Contains("Link"));
        Assert.Equal("5", Assert.Single(last.Headers.GetValues("X-Total-Count")));

        // Without ?limit= a page is up to 100.
        Assert.Equal(5, (await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200)).GetArrayLength());
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=abc")]
    [InlineData("limit=-1")]
    [InlineData("limit=1001")]
    public async Task User_sessions_with_a_bad_limit_is_400(string query)
        => AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/users/someone/sessions?{query}", 400), "invalid_limit");

    [Theory]
    [InlineData("not-a-session")]
    [InlineData("sess_00000000-0000-4000-8000-000000000000")]
    public async Task User_sessions_after_an_unknown_cursor_is_400(string after)
        => AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/users/someone/sessions?after={Uri.EscapeDataString(after)}", 400), "invalid_cursor");

    [Fact]
    public async Task Delete_user_sessions_closes_all_live_sessions_with_logout_all()
    {
        var user = NewUser("all");
        await CreateAsync(_http, user);
        await CreateAsync(_http, user);
        var result = await SendAsync(_http, HttpMethod.Delete, $"/api/users/{user}/sessions", 200);
        Assert.Equal(2, result.GetProperty("closed").GetInt32());
        Assert.Single(result.EnumerateObject());
        Assert.Equal(0, (await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200)).GetArrayLength());
        var history = await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/history", 200);
        Assert.All(history.EnumerateArray(), s => Assert.Equal("logout_all", s.GetProperty("endReason").GetString()));
        Assert.Equal(0, (await SendAsync(_http, HttpMethod.Delete, $"/api/users/{user}/sessions", 200)).GetProperty("closed").GetInt32());
        AssertError(await SendAsync(_http, HttpMethod.Delete, $"/api/users/{new string('x', 200)}/sessions", 400), "invalid_user_id");
    }

    [Fact]
    public async Task Janitor_run_answers_the_number_expired()
    {
        var result = await SendAsync(_http, HttpMethod.Post, "/api/janitor/run", 200);
        Assert.True(result.GetProperty("expired").GetInt32() >= 0);
        Assert.Single(result.EnumerateObject());
    }

    [Fact]
    public async Task Cluster_reports_this_silo_with_its_ports_activations_and_live_sessions()
    {
        var user = NewUser("cluster");
        for (var i = 0; i < 4; i++)
        {
            await CreateAsync(_http, user);
        }
        var cluster = await SendAsync(_http, HttpMethod.Get, "/api/cluster", 200);
        var silo = Assert.Single(cluster.GetProperty("silos").EnumerateArray());
        Assert.Equal(fixture.Address, silo.GetProperty("address").GetString());
        Assert.Equal("active", silo.GetProperty("status").GetString());
        Assert.True(silo.GetProperty("activations").GetInt32() > 0);
        Assert.Equal(fixture.GatewayPort, silo.GetProperty("gatewayPort").GetInt32());
        Assert.Equal(fixture.HttpPort, silo.GetProperty("httpPort").GetInt32());
        Assert.True(silo.GetProperty("live").GetInt64() >= 4);
        Assert.Equal(silo.GetProperty("created").GetInt64() - silo.GetProperty("ended").GetInt64(), silo.GetProperty("live").GetInt64());
        Assert.Equal(8, silo.EnumerateObject().Count());

        var sessions = cluster.GetProperty("sessions");
        Assert.Equal(1, sessions.GetProperty("reportingSilos").GetInt32());
        Assert.Equal(silo.GetProperty("live").GetInt64(), sessions.GetProperty("live").GetInt64());
        Assert.Equal(sessions.GetProperty("created").GetInt64() - sessions.GetProperty("ended").GetInt64(), sessions.GetProperty("live").GetInt64());
        Assert.Equal(4, sessions.EnumerateObject().Count());
    }

    [Fact]
    public async Task Cluster_silo_reports_this_silos_own_figures()
    {
        var local = await SendAsync(_http, HttpMethod.Get, "/api/cluster/silo", 200);
        Assert.Equal(fixture.Address, local.GetProperty("address").GetString());
        Assert.True(local.GetProperty("activations").GetInt32() > 0);
        Assert.Equal(local.GetProperty("created").GetInt64() - local.GetProperty("ended").GetInt64(), local.GetProperty("live").GetInt64());
    }

    [Fact]
    public async Task Healthz_is_200()
    {
        var health = await SendAsync(_http, HttpMethod.Get, "/healthz", 200);
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(fixture.Address, health.GetProperty("silo").GetString());
    }

    [Fact]
    public async Task OpenApi_document_describes_the_endpoints()
    {
        var document = await SendAsync(_http, HttpMethod.Get, "/openapi/v1.json", 200);
        var paths = document.GetProperty("paths");
        foreach (var path in new[] { "/api/sessions", "/api/sessions/{sessionId}", "/api/sessions/{sessionId}/touch", "/api/users/{userId}/sessions", "/api/users/{userId}/history", "/api/janitor/run", "/api/events", "/api/cluster", "/healthz" })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"OpenAPI lacks {path}");
        }
        Assert.True(document.GetProperty("components").GetProperty("schemas").TryGetProperty("SessionInfo", out _));
        Assert.True(paths.GetProperty("/api/sessions").GetProperty("post").TryGetProperty("requestBody", out _));
    }

    [Fact]
    public async Task Dashboard_page_and_script_are_served()
    {
        using var page = await _http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("dashboard.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var script = await _http.GetAsync("/dashboard.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Contains("EventSource", await script.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_without_token_configured_needs_no_authorization()
        => await SendAsync(_http, HttpMethod.Get, "/api/cluster", 200);
}
