using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// One silo process with Security:ApiToken set and a 2-second idle timeout (sessions expire while a test waits),
/// shared by the tests of /metrics, /orleans, the dashboard's data routes and the dashboard with a token.
/// </summary>
public sealed class ObservedSiloFixture : IAsyncLifetime
{
    public const string Token = "observed-token-0123456789";

    internal SiloProcess Silo { get; private set; } = null!;

    public async Task InitializeAsync()
        => Silo = await SiloProcess.StartAsync($"--Security:ApiToken={Token}", "--Sessions:IdleTimeout=00:00:02", "--Sessions:WarningBefore=00:00:01");

    public async Task DisposeAsync() => await Silo.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class ObservedSiloCollection : ICollectionFixture<ObservedSiloFixture>
{
    public const string Name = "observed silo";
}

/// <summary>The Prometheus scrape endpoint, the token in front of it and of Orleans' dashboard, and the dashboard's data routes.</summary>
[Collection(ObservedSiloCollection.Name)]
public sealed partial class ObservabilityTests(ObservedSiloFixture fixture)
{
    private const string CookieName = "orleans_sessions_dashboard";

    [Fact]
    public async Task A_scrape_of_metrics_counts_a_created_session()
    {
        using var http = fixture.Silo.Http(ObservedSiloFixture.Token);
        var before = CreatedTotal(await ScrapeAsync(http));
        await CreateAsync(http, NewUser("metrics"));
        string scrape = "";
        await Wait.UntilAsync(async () => CreatedTotal(scrape = await ScrapeAsync(http)) >= before + 1, TimeSpan.FromSeconds(15),
            "sessions_created_total grows by the session created");
        Assert.True(CreatedTotal(scrape) >= 1);
        // Orleans' own meter is exported beside the session service's.
        Assert.Matches(new Regex("^orleans_catalog_activations[{ ]", RegexOptions.Multiline), scrape);
        Assert.Matches(new Regex("^sessions_live[{ ]", RegexOptions.Multiline), scrape);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    public async Task Orleans_dashboard_and_metrics_refuse_a_caller_without_the_token(string? token)
    {
        using var http = fixture.Silo.Http(token);
        foreach (var path in new[] { "/metrics", "/orleans", "/orleans/", "/orleans/index.min.js", "/orleans/DashboardCounters", "/orleans/ClusterStats",
            $"/metrics?access_token={ObservedSiloFixture.Token}", "/orleans/?access_token=wrong" })
        {
            using var response = await http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"GET {path}: {(int)response.StatusCode}");
            AssertError(await ReadJsonAsync(response), "unauthorized");
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
            Assert.False(response.Headers.Contains("Set-Cookie"), $"GET {path} set a cookie");
        }
    }

    [Fact]
    public async Task A_visit_with_access_token_sets_an_HttpOnly_SameSite_Strict_cookie_that_opens_only_Orleans_dashboard()
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false };
        using var http = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{fixture.Silo.HttpPort}") };

        using var visit = await http.GetAsync($"/orleans?access_token={ObservedSiloFixture.Token}");
        Assert.Equal(HttpStatusCode.Redirect, visit.StatusCode);
        // The token leaves the address bar.
        Assert.Equal("/orleans/", visit.Headers.Location?.OriginalString);
        var setCookie = Assert.Single(visit.Headers.GetValues("Set-Cookie"));
        var attributes = setCookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        Assert.Contains("httponly", attributes);
        Assert.Contains("samesite=strict", attributes);
        Assert.Contains("path=/orleans", attributes);
        var cookie = setCookie.Split(';')[0];
        Assert.StartsWith(CookieName + "=", cookie, StringComparison.Ordinal);
        Assert.DoesNotContain(ObservedSiloFixture.Token, cookie, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, await StatusWithCookieAsync(http, "/orleans/", cookie));
        Assert.Equal(HttpStatusCode.OK, await StatusWithCookieAsync(http, "/orleans/DashboardCounters", cookie));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithCookieAsync(http, "/metrics", cookie));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithCookieAsync(http, "/api/cluster", cookie));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithCookieAsync(http, "/orleans/DashboardCounters", cookie[..^1] + (cookie[^1] == 'A' ? 'B' : 'A')));
    }

    [Fact]
    public async Task The_bearer_header_opens_Orleans_dashboard_and_metrics()
    {
        using var http = fixture.Silo.Http(ObservedSiloFixture.Token);
        using var page = await http.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<title>Orleans Dashboard</title>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var counters = await http.GetAsync("/orleans/DashboardCounters");
        Assert.Equal(HttpStatusCode.OK, counters.StatusCode);
        using var metrics = await http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
    }

    [Fact]
    public async Task Recent_events_list_the_latest_first_in_the_shape_of_the_stream()
    {
        using var http = fixture.Silo.Http(ObservedSiloFixture.Token);
        var user = NewUser("recent");
        var first = (await CreateAsync(http, user)).GetProperty("sessionId").GetString();
        var second = (await CreateAsync(http, user)).GetProperty("sessionId").GetString();
        List<System.Text.Json.JsonElement> events = [];
        await Wait.UntilAsync(async () =>
        {
            events = [.. (await SendAsync(http, HttpMethod.Get, $"/api/events/recent?userId={user}&limit=200", 200)).EnumerateArray()];
            return events.Count(e => e.GetProperty("type").GetString() == "created") == 2;
        }, TimeSpan.FromSeconds(15), "both created events are listed");
        var created = events.Where(e => e.GetProperty("type").GetString() == "created").Select(e => e.GetProperty("session").GetProperty("sessionId").GetString()).ToList();
        Assert.Equal([second, first], created);
        Assert.All(events, e =>
        {
            Assert.Equal(user, e.GetProperty("session").GetProperty("userId").GetString());
            Assert.True(e.TryGetProperty("at", out _));
        });
        var one = await SendAsync(http, HttpMethod.Get, $"/api/events/recent?userId={user}&limit=1", 200);
        Assert.Equal(1, one.GetArrayLength());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("201")]
    [InlineData("many")]
    public async Task Recent_events_check_their_limit(string limit)
    {
        using var http = fixture.Silo.Http(ObservedSiloFixture.Token);
        AssertError(await SendAsync(http, HttpMethod.Get, $"/api/events/recent?limit={limit}", 400), "invalid_limit");
    }

    [Fact]
    public async Task The_dashboard_data_routes_need_the_token()
    {
        using var http = fixture.Silo.Http();
        AssertError(await SendAsync(http, HttpMethod.Get, "/api/stats/history", 401), "unauthorized");
        AssertError(await SendAsync(http, HttpMethod.Get, "/api/events/recent", 401), "unauthorized");
        AssertError(await SendAsync(http, HttpMethod.Get, $"/api/events/recent?access_token={ObservedSiloFixture.Token}", 401), "unauthorized");
    }

    [Fact]
    public async Task The_history_has_a_sample_every_2_seconds_with_the_live_sessions()
    {
        using var http = fixture.Silo.Http(ObservedSiloFixture.Token);
        await Wait.UntilAsync(async () => (await SendAsync(http, HttpMethod.Get, "/api/stats/history", 200)).GetProperty("samples").GetArrayLength() >= 3,
            TimeSpan.FromSeconds(15), "three samples");
        var history = await SendAsync(http, HttpMethod.Get, "/api/stats/history", 200);
        Assert.Equal(2, history.GetProperty("intervalSeconds").GetDouble());
        Assert.Equal(1, history.GetProperty("reportingSilos").GetInt32());
        var at = history.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("at").GetDateTimeOffset()).ToList();
        Assert.All(at.Zip(at.Skip(1)), pair => Assert.True(pair.Second > pair.First, $"{pair.First:O} then {pair.Second:O}"));
        Assert.All(at, a => Assert.Equal(0, a.ToUnixTimeMilliseconds() % 2000));
        var last = history.GetProperty("samples").EnumerateArray().Last();
        foreach (var name in new[] { "live", "createdPerSecond", "endedPerSecond", "expired", "expiryLagP50Ms", "expiryLagP99Ms" })
        {
            Assert.True(last.TryGetProperty(name, out _), name);
        }
    }

    private static async Task<HttpStatusCode> StatusWithCookieAsync(HttpClient http, string path, string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("Cookie", cookie);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<string> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics: {(int)response.StatusCode} {text}");
        return text;
    }

    /// <summary>The value of the sessions.created counter as the Prometheus exporter writes it (0 before the first session).</summary>
    private static double CreatedTotal(string scrape)
    {
        var match = CreatedTotalLine().Match(scrape);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex(@"^sessions_created_total(?:\{[^}]*\})? ([0-9.eE+]+)", RegexOptions.Multiline)]
    private static partial Regex CreatedTotalLine();
}

/// <summary>Observability:OrleansDashboard=false: no Orleans dashboard (nor its per-call profiling), no link to it; /metrics stays.</summary>
public sealed class WithoutOrleansDashboardTests
{
    [Fact]
    public async Task Without_Orleans_dashboard_its_route_and_link_are_gone_and_metrics_stay()
    {
        await using var silo = await SiloProcess.StartAsync("--Observability:OrleansDashboard=false");
        using var http = silo.Http();
        using (var orleans = await http.GetAsync("/orleans/"))
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, orleans.StatusCode);
        }
        var page = await http.GetStringAsync("/");
        Assert.Contains("<nav hidden><a id=\"orleans-link\"", page, StringComparison.Ordinal);
        using var metrics = await http.GetAsync("/metrics");
        Assert.Equal(System.Net.HttpStatusCode.OK, metrics.StatusCode);

        await using var withDashboard = await SiloProcess.StartAsync();
        using var http2 = withDashboard.Http();
        Assert.Contains("<nav><a id=\"orleans-link\" href=\"/orleans/\"", await http2.GetStringAsync("/"), StringComparison.Ordinal);
    }
}
