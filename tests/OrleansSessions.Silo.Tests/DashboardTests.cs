using Microsoft.Playwright;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>The dashboard of a two-silo cluster in headless Chromium (Debian's /usr/bin/chromium; never a downloaded browser).</summary>
[Collection(PostgresClusterCollection.Name)]
public sealed class DashboardTests(PostgresClusterFixture fixture)
{
    private const string ChromiumPath = "/usr/bin/chromium";

    [Fact]
    public async Task Dashboard_shows_the_silos_and_a_live_event()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: install it with 'apt-get install -y chromium'.");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
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
        await Assertions.Expect(row).ToContainTextAsync(created.GetProperty("userId").GetString()!);
        await Assertions.Expect(page.Locator("#live")).Not.ToHaveTextAsync("–", new() { Timeout = 15_000 });
    }
}
