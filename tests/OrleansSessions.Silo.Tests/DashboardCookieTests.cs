using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrleansSessions.AspNetCore.Api;
using OrleansSessions.SiloHost.Hosting;

namespace OrleansSessions.Silo.Tests;

/// <summary>The /orleans cookie: it expires, its expiry cannot be moved, and it is good on the silo process that set it only.</summary>
public sealed class DashboardCookieTests
{
    private const string Token = "cookie-test-token-0123456789";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 14, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task The_dashboard_cookie_lasts_an_hour_from_the_visit_that_set_it()
    {
        var silo = NewSilo();
        var setCookie = await VisitAsync(silo);
        Assert.Contains("max-age=3600", setCookie.ToLowerInvariant(), StringComparison.Ordinal);
        var cookie = CookieValue(setCookie);

        _time.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(StatusCodes.Status200OK, await StatusWithCookieAsync(silo, cookie));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(StatusCodes.Status401Unauthorized, await StatusWithCookieAsync(silo, cookie));
    }

    [Fact]
    public async Task A_cookie_whose_expiry_was_moved_later_is_refused()
    {
        var silo = NewSilo();
        var cookie = CookieValue(await VisitAsync(silo));
        var parts = cookie.Split('.');
        Assert.Equal(2, parts.Length);
        var later = long.Parse(parts[0], CultureInfo.InvariantCulture) + 86_400;
        Assert.Equal(StatusCodes.Status401Unauthorized, await StatusWithCookieAsync(silo, $"{later.ToString(CultureInfo.InvariantCulture)}.{parts[1]}"));
        Assert.Equal(StatusCodes.Status200OK, await StatusWithCookieAsync(silo, cookie));
    }

    [Fact]
    public async Task A_cookie_set_by_another_silo_process_with_the_same_token_is_refused()
    {
        var cookie = CookieValue(await VisitAsync(NewSilo()));
        Assert.Equal(StatusCodes.Status401Unauthorized, await StatusWithCookieAsync(NewSilo(), cookie));
    }

    [Theory]
    [InlineData("")]
    [InlineData("anything")]
    [InlineData("99999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("-1.AAAA")]
    [InlineData(".")]
    public async Task A_forged_cookie_is_refused(string cookie)
        => Assert.Equal(StatusCodes.Status401Unauthorized, await StatusWithCookieAsync(NewSilo(), cookie));

    private ObservabilityAccess NewSilo()
    {
        var security = Options.Create(new SecurityOptions { ApiToken = Token });
        return new ObservabilityAccess(new ApiTokenCheck(security), security, _time);
    }

    private static string CookieValue(string setCookie)
    {
        var pair = setCookie.Split(';')[0];
        Assert.StartsWith(ObservabilityAccess.CookieName + "=", pair, StringComparison.Ordinal);
        return pair[(ObservabilityAccess.CookieName.Length + 1)..];
    }

    /// <summary>GET /orleans?access_token=...: a redirect that sets the cookie; returns the Set-Cookie header.</summary>
    private static async Task<string> VisitAsync(ObservabilityAccess access)
    {
        var context = NewContext("/orleans");
        context.Request.QueryString = new QueryString($"?access_token={Token}");
        Assert.True(await access.HandleRequestAsync(context), "the visit reached the dashboard");
        Assert.Equal(StatusCodes.Status302Found, context.Response.StatusCode);
        return context.Response.Headers.SetCookie.ToString();
    }

    /// <summary>What the ApiToken scheme answers a dashboard request that presents <paramref name="cookie"/> only.</summary>
    private static async Task<int> StatusWithCookieAsync(ObservabilityAccess access, string cookie)
    {
        var context = NewContext("/orleans/DashboardCounters");
        context.Request.Headers.Cookie = $"{ObservabilityAccess.CookieName}={cookie}";
        Assert.False(await access.HandleRequestAsync(context));
        return access.IsPresented(context) ? StatusCodes.Status200OK : StatusCodes.Status401Unauthorized;
    }

    private static DefaultHttpContext NewContext(string path)
    {
        var context = new DefaultHttpContext { RequestServices = new ServiceCollection().BuildServiceProvider() };
        context.Request.Method = HttpMethods.Get;
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();
        return context;
    }
}
