using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>The dashboard of a two-silo cluster in headless Chromium (Debian's /usr/bin/chromium; never a downloaded browser).</summary>
[Collection(PostgresClusterCollection.Name)]
public sealed class DashboardTests(PostgresClusterFixture fixture)
{
    [Fact]
    public async Task Dashboard_shows_the_silos_and_a_live_event()
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{fixture.First.HttpPort}/");

        var silos = page.Locator("#silos tbody tr.silo");
        await Assertions.Expect(silos).ToHaveCountAsync(2, new() { Timeout = 15_000 });
        foreach (var silo in new[] { fixture.First, fixture.Second })
        {
            await Assertions.Expect(page.Locator("#silos")).ToContainTextAsync(silo.Address, new() { Timeout = 15_000 });
        }
        await Assertions.Expect(page.Locator("body")).ToHaveAttributeAsync("data-events", "open", new() { Timeout = 15_000 });

        using var http = fixture.Second.Http();
        var created = await CreateAsync(http, NewUser("browser"));
        var id = created.GetProperty("sessionId").GetString();
        var row = page.Locator($"#events tr.event[data-session-id='{id}'][data-type='created']");
        await Assertions.Expect(row).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        await Assertions.Expect(row).ToHaveAttributeAsync("data-origin", "live");
        await Assertions.Expect(row).ToContainTextAsync(created.GetProperty("userId").GetString()!);
        await Assertions.Expect(page.Locator("#live")).Not.ToHaveTextAsync("–", new() { Timeout = 15_000 });
    }

    [Fact]
    public async Task At_load_the_charts_draw_the_last_minutes_of_both_silos_and_the_latest_events_are_listed()
    {
        // Sessions created on both silos; the second of the user evicts the first (Sessions:MaxPerUser=1), a logout ends the other.
        using var first = fixture.First.Http();
        using var second = fixture.Second.Http();
        var user = NewUser("charts");
        var evicted = (await CreateAsync(second, user)).GetProperty("sessionId").GetString()!;
        var closed = (await CreateAsync(first, user)).GetProperty("sessionId").GetString()!;
        await SendAsync(first, HttpMethod.Delete, $"/api/sessions/{closed}", 200);
        // Both silos' rates reach the history of either one within a few samples.
        await Wait.UntilAsync(async () =>
        {
            var history = await SendAsync(second, HttpMethod.Get, "/api/stats/history", 200);
            var samples = history.GetProperty("samples").EnumerateArray().ToList();
            return history.GetProperty("reportingSilos").GetInt32() == 2 && samples.Count >= 2
                && samples.Any(s => s.GetProperty("createdPerSecond").GetDouble() > 0)
                && samples.Any(s => s.GetProperty("endedPerSecond").GetDouble() > 0);
        }, TimeSpan.FromSeconds(20), "the history shows sessions created and ended on both silos");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{fixture.Second.HttpPort}/");

        await AssertChartDrawnAsync(page, "#chart-live path.series-live", minPoints: 2, positive: false);
        await AssertChartDrawnAsync(page, "#chart-created path.series-created", minPoints: 2, positive: true);
        await AssertChartDrawnAsync(page, "#chart-ended path.series-ended", minPoints: 2, positive: true);
        // Listed from /api/events/recent, not from the stream: they happened before the page opened.
        foreach (var (session, type) in new[] { (evicted, "created"), (evicted, "evicted"), (closed, "created"), (closed, "closed") })
        {
            await Assertions.Expect(page.Locator($"#events tr.event[data-origin='recent'][data-session-id='{session}'][data-type='{type}']"))
                .ToHaveCountAsync(1, new() { Timeout = 15_000 });
        }
    }

    [Fact]
    public async Task The_link_opens_Orleans_dashboard_which_shows_both_silos()
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{fixture.First.HttpPort}/");

        var link = page.Locator("#orleans-link");
        await Assertions.Expect(link).ToHaveAttributeAsync("href", "/orleans/");
        await link.ClickAsync();
        await Chromium.AssertOrleansDashboardAsync(page, fixture.First.HttpPort, activeSilos: 2);
    }

    /// <summary>The chart's path has at least <paramref name="minPoints"/> points (and, if <paramref name="positive"/>, a value above 0).</summary>
    internal static async Task AssertChartDrawnAsync(IPage page, string selector, int minPoints, bool positive)
    {
        var path = page.Locator(selector);
        await Assertions.Expect(path).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        await Assertions.Expect(path).ToHaveAttributeAsync("data-points", new Regex(minPoints <= 1 ? "^[1-9][0-9]*$" : $"^([{minPoints}-9]|[1-9][0-9]+)$"), new() { Timeout = 15_000 });
        await Assertions.Expect(path).ToHaveAttributeAsync("d", new Regex("^M[0-9.]+,[0-9.]+(L[0-9.]+,[0-9.]+)+"));
        if (positive)
        {
            await Assertions.Expect(path).Not.ToHaveAttributeAsync("data-peak", "0", new() { Timeout = 15_000 });
        }
    }
}

/// <summary>
/// The dashboard of a silo with Security:ApiToken and a 2-second idle timeout, so sessions expire and the expiry lag
/// chart has data: opened as /?token=..., it reaches Orleans' dashboard through the token's cookie.
/// </summary>
[Collection(ObservedSiloCollection.Name)]
public sealed class TokenDashboardTests(ObservedSiloFixture fixture)
{
    [Fact]
    public async Task With_a_token_the_charts_draw_expiry_lag_and_the_link_opens_Orleans_dashboard()
    {
        using var http = fixture.Silo.Http(ObservedSiloFixture.Token);
        var user = NewUser("lag");
        var sessions = new List<string>();
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        for (var i = 0; i < 3; i++)
        {
            sessions.Add((await CreateAsync(http, user)).GetProperty("sessionId").GetString()!);
        }
        // The three expire after the 2-second idle timeout; their lags land in the samples after they were created.
        await Wait.UntilAsync(async () =>
        {
            var recent = await SendAsync(http, HttpMethod.Get, $"/api/events/recent?userId={user}", 200);
            var history = await SendAsync(http, HttpMethod.Get, "/api/stats/history", 200);
            return recent.EnumerateArray().Count(e => e.GetProperty("type").GetString() == "expired") == 3
                && history.GetProperty("samples").EnumerateArray().Where(s => s.GetProperty("at").GetDateTimeOffset() >= since).Sum(s => s.GetProperty("expired").GetInt64()) >= 3;
        }, TimeSpan.FromSeconds(30), "the three sessions expired and the history counts them");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{fixture.Silo.HttpPort}/?token={ObservedSiloFixture.Token}");

        await DashboardTests.AssertChartDrawnAsync(page, "#chart-live path.series-live", minPoints: 2, positive: true);
        await DashboardTests.AssertChartDrawnAsync(page, "#chart-created path.series-created", minPoints: 2, positive: true);
        await DashboardTests.AssertChartDrawnAsync(page, "#chart-ended path.series-ended", minPoints: 2, positive: true);
        // A lag is one point per interval with expiries; a single one is a lone "M" without a line.
        foreach (var series in new[] { "p50", "p99" })
        {
            var path = page.Locator($"#chart-lag path.series-{series}");
            await Assertions.Expect(path).ToHaveAttributeAsync("data-points", new Regex("^[1-9][0-9]*$"), new() { Timeout = 15_000 });
            await Assertions.Expect(path).Not.ToHaveAttributeAsync("data-peak", "0");
        }
        foreach (var session in sessions)
        {
            await Assertions.Expect(page.Locator($"#events tr.event[data-origin='recent'][data-session-id='{session}'][data-type='expired']"))
                .ToHaveCountAsync(1, new() { Timeout = 15_000 });
        }

        await page.Locator("#orleans-link").ClickAsync();
        await Chromium.AssertOrleansDashboardAsync(page, fixture.Silo.HttpPort, activeSilos: 1);
    }

    [Fact]
    public async Task Without_the_token_a_browser_gets_401_from_Orleans_dashboard_and_metrics()
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        foreach (var path in new[] { "/orleans/", "/metrics" })
        {
            var response = await page.GotoAsync($"http://127.0.0.1:{fixture.Silo.HttpPort}{path}");
            Assert.NotNull(response);
            Assert.Equal(401, response.Status);
        }
    }
}

/// <summary>A session's labels and the size of its data on the dashboard of the default silo, and never its words.</summary>
[Collection(DefaultSiloCollection.Name)]
public sealed class SessionDataDashboardTests(DefaultSiloFixture fixture)
{
    [Fact]
    public async Task Event_rows_show_labels_message_count_and_data_version_but_no_words()
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{fixture.Silo.HttpPort}/");
        await Assertions.Expect(page.Locator("body")).ToHaveAttributeAsync("data-events", "open", new() { Timeout = 15_000 });

        var marker = "words-" + Guid.NewGuid().ToString("N");
        var created = await SendAsync(fixture.Http, HttpMethod.Post, "/api/sessions", 201,
            $$$"""{"userId": "{{{NewUser("dash-data")}}}", "labels": {"channel": "web", "Device": "ios"}, "attributes": {"secret": "{{{marker}}}"}}""");
        var id = created.GetProperty("sessionId").GetString();
        await SendAsync(fixture.Http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200,
            $$$"""{"messages": [{"role": "user", "content": "{{{marker}}}"}, {"role": "assistant", "content": "{{{marker}}}", "metadata": {"m": "{{{marker}}}"}}]}""");
        await SendAsync(fixture.Http, HttpMethod.Delete, $"/api/sessions/{id}", 200);

        var createdRow = page.Locator($"#events tr.event[data-session-id='{id}'][data-type='created']");
        await Assertions.Expect(createdRow).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        await Assertions.Expect(createdRow).ToContainTextAsync("channel=web, Device=ios");
        await Assertions.Expect(createdRow).ToHaveAttributeAsync("data-data-version", "1");
        await Assertions.Expect(createdRow).ToHaveAttributeAsync("data-message-count", "0");
        var closedRow = page.Locator($"#events tr.event[data-session-id='{id}'][data-type='closed']");
        await Assertions.Expect(closedRow).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        await Assertions.Expect(closedRow).ToHaveAttributeAsync("data-data-version", "2");
        await Assertions.Expect(closedRow).ToHaveAttributeAsync("data-message-count", "2");
        Assert.DoesNotContain(marker, await page.ContentAsync(), StringComparison.Ordinal);
    }
}

/// <summary>Debian's Chromium through Playwright.</summary>
internal static class Chromium
{
    private const string ExecutablePath = "/usr/bin/chromium";

    public static async Task<IBrowser> LaunchAsync(IPlaywright playwright)
    {
        Assert.True(File.Exists(ExecutablePath), $"{ExecutablePath} is missing: install it with 'apt-get install -y chromium'.");
        return await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>The page is Orleans' dashboard at /orleans/, and its scripts read the cluster (its "Active Silos" count).</summary>
    public static async Task AssertOrleansDashboardAsync(IPage page, int httpPort, int activeSilos)
    {
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"^http://127\\.0\\.0\\.1:{httpPort}/orleans/"), new() { Timeout = 15_000 });
        await Assertions.Expect(page).ToHaveTitleAsync("Orleans Dashboard", new() { Timeout = 15_000 });
        var silos = page.Locator(".info-box", new() { HasText = "Active Silos" }).Locator(".info-box-number");
        await Assertions.Expect(silos).ToHaveTextAsync(activeSilos.ToString(System.Globalization.CultureInfo.InvariantCulture), new() { Timeout = 30_000 });
    }
}
