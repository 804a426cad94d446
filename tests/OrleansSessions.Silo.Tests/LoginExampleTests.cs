using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// examples/aspnetcore-login in headless Chromium: a silo process and three processes of the app, Orleans clients of
/// it (two nodes with the silo's timeouts, one whose logins idle out after <see cref="LoginExampleFixture.IdleTimeout"/>).
/// </summary>
[Collection(LoginExampleCollection.Name)]
public sealed class LoginExampleTests(LoginExampleFixture fixture)
{
    private const float Within = 15_000;

    [Fact]
    public async Task Two_browsers_see_both_sessions_and_the_one_logged_out_from_the_other_is_sent_to_the_login_page()
    {
        var user = NewUser("web");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        // Two browsers (cookies and user agents of their own), each on its own node of the app.
        await using var laptop = await browser.NewContextAsync(new() { UserAgent = "Laptop browser" });
        await using var phone = await browser.NewContextAsync(new() { UserAgent = "Phone browser" });
        var laptopPage = await laptop.NewPageAsync();
        var phonePage = await phone.NewPageAsync();
        await SignInAsync(laptopPage, fixture.First, user);
        await SignInAsync(phonePage, fixture.Second, user);

        var phoneRows = phonePage.Locator("#sessions tr.session");
        await Assertions.Expect(phoneRows).ToHaveCountAsync(2, new() { Timeout = Within });
        await Assertions.Expect(phonePage.Locator("#sessions tr.session[data-current='true'] td.device")).ToContainTextAsync("Phone browser", new() { Timeout = Within });
        var laptopRow = phonePage.Locator("#sessions tr.session[data-current='false']");
        await Assertions.Expect(laptopRow.Locator("td.device")).ToHaveTextAsync("Laptop browser", new() { Timeout = Within });
        await Assertions.Expect(laptopRow.Locator("td.since time")).ToHaveAttributeAsync("datetime", new Regex("^20[0-9]{2}-"), new() { Timeout = Within });
        var laptopSession = await laptopRow.GetAttributeAsync("data-session-id") ?? throw new InvalidOperationException("no session id on the row");
        await laptopPage.ReloadAsync();
        await Assertions.Expect(laptopPage.Locator("#sessions tr.session")).ToHaveCountAsync(2, new() { Timeout = Within });
        await Assertions.Expect(laptopPage.Locator("#sessions tr.session[data-current='true']")).ToHaveAttributeAsync("data-session-id", laptopSession, new() { Timeout = Within });

        await laptopRow.Locator("button.logout-one").ClickAsync();

        await Assertions.Expect(phonePage).ToHaveURLAsync(Page(fixture.Second, "/"), new() { Timeout = Within });
        await Assertions.Expect(phoneRows).ToHaveCountAsync(1, new() { Timeout = Within });
        await Assertions.Expect(phoneRows.First).ToHaveAttributeAsync("data-current", "true", new() { Timeout = Within });
        // The laptop's very next request, on the other node.
        await laptopPage.ReloadAsync();
        await Assertions.Expect(laptopPage).ToHaveURLAsync(LoginPage(fixture.First), new() { Timeout = Within });
        using var http = fixture.Silo.Http();
        var ended = await SendAsync(http, HttpMethod.Get, $"/api/sessions/{laptopSession}", 200);
        Assert.Equal("closed", ended.GetProperty("status").GetString());
        Assert.Equal("logout", ended.GetProperty("endReason").GetString());
        Assert.Equal("Laptop browser", ended.GetProperty("labels").GetProperty("userAgent").GetString());
    }

    [Fact]
    public async Task Log_out_everywhere_sends_every_browser_of_the_user_to_the_login_page()
    {
        var user = NewUser("everywhere");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        await using var first = await browser.NewContextAsync(new() { UserAgent = "First browser" });
        await using var second = await browser.NewContextAsync(new() { UserAgent = "Second browser" });
        var firstPage = await first.NewPageAsync();
        var secondPage = await second.NewPageAsync();
        await SignInAsync(firstPage, fixture.First, user);
        await SignInAsync(secondPage, fixture.Second, user);
        await Assertions.Expect(secondPage.Locator("#sessions tr.session")).ToHaveCountAsync(2, new() { Timeout = Within });

        await secondPage.Locator("#logout-everywhere").ClickAsync();

        await Assertions.Expect(secondPage).ToHaveURLAsync(Page(fixture.Second, "/login"), new() { Timeout = Within });
        await firstPage.ReloadAsync();
        await Assertions.Expect(firstPage).ToHaveURLAsync(LoginPage(fixture.First), new() { Timeout = Within });
        await secondPage.GotoAsync(Page(fixture.Second, "/"));
        await Assertions.Expect(secondPage).ToHaveURLAsync(LoginPage(fixture.Second), new() { Timeout = Within });
        using var http = fixture.Silo.Http();
        Assert.Empty((await SendAsync(http, HttpMethod.Get, $"/api/users/{user}/sessions", 200)).EnumerateArray());
        var history = (await SendAsync(http, HttpMethod.Get, $"/api/users/{user}/history", 200)).EnumerateArray().ToList();
        Assert.Equal(2, history.Count);
        Assert.All(history, s => Assert.Equal("logout_all", s.GetProperty("endReason").GetString()));
    }

    [Fact]
    public async Task An_idle_browser_is_sent_to_the_login_page_on_its_first_request_past_the_idle_timeout()
    {
        var user = NewUser("idle");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        await using var context = await browser.NewContextAsync(new() { UserAgent = "Idle browser" });
        var page = await context.NewPageAsync();
        await SignInAsync(page, fixture.Idle, user);
        var row = page.Locator("#sessions tr.session[data-current='true']");
        var signedIn = await ExpiresAtAsync(row);

        // A request within the idle timeout is activity: the deadline moves on.
        await page.ReloadAsync();
        await Assertions.Expect(page).ToHaveURLAsync(Page(fixture.Idle, "/"), new() { Timeout = Within });
        var deadline = await ExpiresAtAsync(row);
        Assert.True(deadline > signedIn, $"the deadline {deadline:O} did not move on from {signedIn:O}");
        Assert.True(deadline - DateTimeOffset.UtcNow <= TimeSpan.Parse(LoginExampleFixture.IdleTimeout, CultureInfo.InvariantCulture), $"deadline {deadline:O}");

        await WaitUntilAsync(deadline);
        await page.ReloadAsync();

        await Assertions.Expect(page).ToHaveURLAsync(LoginPage(fixture.Idle), new() { Timeout = Within });
        using var http = fixture.Silo.Http();
        var session = (await SendAsync(http, HttpMethod.Get, $"/api/users/{user}/history", 200)).EnumerateArray().Single();
        Assert.Equal("expired", session.GetProperty("status").GetString());
        Assert.Equal("idle_timeout", session.GetProperty("endReason").GetString());
        Assert.Equal(deadline, session.GetProperty("endedAt").GetDateTimeOffset());
    }

    private static async Task SignInAsync(IPage page, SiloProcess app, string user)
    {
        await page.GotoAsync(Page(app, "/"));
        await Assertions.Expect(page).ToHaveURLAsync(LoginPage(app), new() { Timeout = Within });
        await page.Locator("#login input[name='userName']").FillAsync(user);
        await page.Locator("#sign-in").ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(Page(app, "/"), new() { Timeout = Within });
        await Assertions.Expect(page.Locator("#user")).ToHaveTextAsync(user, new() { Timeout = Within });
    }

    private static async Task<DateTimeOffset> ExpiresAtAsync(ILocator row)
    {
        await Assertions.Expect(row).ToHaveCountAsync(1, new() { Timeout = Within });
        var text = await row.GetAttributeAsync("data-expires-at") ?? throw new InvalidOperationException("no data-expires-at on the row");
        return DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
    }

    private static string Page(SiloProcess app, string path) => app.Url(path).ToString();

    /// <summary>Where the cookie handler sends a request for / without a login.</summary>
    private static Regex LoginPage(SiloProcess app) => new($"^{Regex.Escape(Page(app, "/login"))}\\?ReturnUrl=%2F$");
}

/// <summary>
/// A silo process with default settings and three processes of examples/aspnetcore-login connected to it: First and
/// Second (the silo's timeouts) and Idle (Login:IdleTimeout <see cref="IdleTimeout"/>). The example is built first if
/// its build is missing or older than its sources or the libraries it uses.
/// </summary>
public sealed class LoginExampleFixture : IAsyncLifetime
{
    public const string IdleTimeout = "00:00:04";

    internal SiloProcess Silo { get; private set; } = null!;

    internal SiloProcess First { get; private set; } = null!;

    internal SiloProcess Second { get; private set; } = null!;

    internal SiloProcess Idle { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var app = await LoginExample.EnsureBuiltAsync();
        Silo = await SiloProcess.StartAsync();
        var first = LoginExample.StartAsync(app, Silo, "login app 1");
        var second = LoginExample.StartAsync(app, Silo, "login app 2");
        var idle = LoginExample.StartAsync(app, Silo, "login app (idle)", $"--Login:IdleTimeout={IdleTimeout}");
        try
        {
            await Task.WhenAll(first, second, idle);
        }
        finally
        {
            First = first.IsCompletedSuccessfully ? first.Result : null!;
            Second = second.IsCompletedSuccessfully ? second.Result : null!;
            Idle = idle.IsCompletedSuccessfully ? idle.Result : null!;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var process in new[] { First, Second, Idle, Silo })
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LoginExampleCollection : ICollectionFixture<LoginExampleFixture>
{
    public const string Name = "login example";
}

/// <summary>examples/aspnetcore-login: its build and its processes.</summary>
internal static class LoginExample
{
    private static readonly string Folder = Path.Combine(Repo.Root, "examples", "aspnetcore-login");

    private static readonly string Dll = Path.Combine(Folder, "bin", Repo.Configuration, "net10.0", "AspNetCoreLogin.dll");

    /// <summary>The built app, built now when its build is missing or stale.</summary>
    public static async Task<string> EnsureBuiltAsync()
    {
        if (!IsCurrent())
        {
            var (exitCode, stdout, stderr) = await ChildProcess.RunAsync("dotnet",
                ["build", Path.Combine(Folder, "AspNetCoreLogin.csproj"), "-c", Repo.Configuration, "--nologo", "-v", "q"], TimeSpan.FromMinutes(5));
            Assert.True(exitCode == 0, $"building examples/aspnetcore-login failed ({exitCode}):\n{stdout}\n{stderr}");
            Assert.True(IsCurrent(), $"{Dll} is still older than its sources after a build");
        }
        return Dll;
    }

    /// <summary>Starts the app as an Orleans client of <paramref name="silo"/> on a free port and waits until /healthz answers 200.</summary>
    public static Task<SiloProcess> StartAsync(string dll, SiloProcess silo, string name, params string[] settings)
        => SiloProcess.StartAsync(new SiloProcessOptions
        {
            Name = name,
            Command = ["dotnet", dll],
            PortArguments = ports => [$"--urls=http://127.0.0.1:{ports.Http.ToString(CultureInfo.InvariantCulture)}"],
            Arguments = [$"--Cluster:Gateway={silo.Gateway}", .. settings],
            StopGracefully = true,
        });

    // Current: built after its last source change, with this build's copies of the libraries and settings.
    private static bool IsCurrent()
    {
        if (!File.Exists(Dll))
        {
            return false;
        }
        var built = File.GetLastWriteTimeUtc(Dll);
        var output = Path.GetDirectoryName(Dll)!;
        foreach (var source in Directory.EnumerateFiles(Folder, "*.cs", SearchOption.TopDirectoryOnly))
        {
            if (File.GetLastWriteTimeUtc(source) > built)
            {
                return false;
            }
        }
        return SameBytes(Path.Combine(Folder, "appsettings.json"), Path.Combine(output, "appsettings.json"))
            && new[] { "OrleansSessions.AspNetCore.dll", "OrleansSessions.Client.dll", "OrleansSessions.Abstractions.dll" }
                .All(library => SameBytes(Path.Combine(AppContext.BaseDirectory, library), Path.Combine(output, library)));
    }

    private static bool SameBytes(string a, string b)
        => File.Exists(a) && File.Exists(b) && File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b));
}
