using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OrleansSessions.AspNetCore.Api;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// The /orleans cookie, a credential of the ApiToken authentication scheme besides the token itself
/// (<see cref="IApiTokenCredential"/>): Orleans' dashboard (/orleans) and the Prometheus scrape endpoint (/metrics)
/// require the scheme's policy. With a token set, a request needs "Authorization: Bearer &lt;token&gt;"; a browser, whose page
/// and scripts cannot send that header to Orleans' dashboard, visits /orleans?access_token=&lt;token&gt; once (or
/// fetches /orleans/ with the header) and gets an HttpOnly, SameSite=Strict cookie for /orleans that carries its
/// expiry and an HMAC of it, not the token; the visit is redirected to /orleans/ so the token leaves the address bar.
/// Every comparison takes the same time whatever is presented.
/// </summary>
/// <remarks>
/// The cookie opens the live log, which shows every session and user id, so it must not be a bearer credential for
/// good: it lasts <see cref="CookieLifetime"/> (the expiry is inside the HMAC, so it cannot be moved), and the HMAC key
/// is derived from the token and a random secret drawn when this process starts. A per-process secret rather than a
/// time-bucketed one: nothing to share or to keep in step between silos, and a restart revokes every cookie. The cost
/// is that a cookie is good on the silo process that set it only; browsers do not tell ports apart for cookies, so
/// after visiting another silo on the same host the dashboard asks for the token again (the session dashboard's
/// link sets a new cookie on each visit).
/// </remarks>
internal sealed class ObservabilityAccess : IApiTokenCredential
{
    public const string DashboardPath = "/orleans";
    public const string MetricsPath = "/metrics";
    public const string CookieName = "orleans_sessions_dashboard";

    /// <summary>How long a dashboard cookie is good for from the visit that set it.</summary>
    public static readonly TimeSpan CookieLifetime = TimeSpan.FromHours(1);

    private readonly ApiTokenCheck _check;
    private readonly TimeProvider _time;
    private readonly byte[]? _cookieKey;

    public ObservabilityAccess(ApiTokenCheck check, IOptions<SecurityOptions> security, TimeProvider time)
    {
        _check = check;
        _time = time;
        var token = security.Value.ApiToken;
        if (!string.IsNullOrEmpty(token))
        {
            byte[] message = [.. "OrleansSessions /orleans cookie "u8, .. RandomNumberGenerator.GetBytes(32)];
            _cookieKey = HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), message);
        }
    }

    /// <summary>A visit to the dashboard page with ?access_token=&lt;token&gt;: sets the cookie and redirects to /orleans/.</summary>
    public Task<bool> HandleRequestAsync(HttpContext context)
    {
        var request = context.Request;
        if (_cookieKey is null || !IsDashboardPage(request) || !request.Query.TryGetValue("access_token", out var query) || !_check.Matches(query.ToString()))
        {
            return Task.FromResult(false);
        }
        SetCookie(context);
        context.Response.Redirect($"{request.PathBase}{DashboardPath}/");
        return Task.FromResult(true);
    }

    /// <summary>The dashboard page fetched with the token in the header (the session dashboard's link): sets the cookie.</summary>
    public void OnTokenAccepted(HttpContext context)
    {
        if (_cookieKey is not null && IsDashboardPage(context.Request))
        {
            SetCookie(context);
        }
    }

    /// <summary>A valid cookie on a request under /orleans (without ?access_token=, which must be right by itself).</summary>
    public bool IsPresented(HttpContext context)
    {
        var request = context.Request;
        return _cookieKey is not null && IsDashboard(request)
            && !(request.Query.ContainsKey("access_token") && IsDashboardPage(request))
            && request.Cookies.TryGetValue(CookieName, out var cookie) && IsValidCookie(cookie);
    }

    public string? ChallengeDetail(HttpContext context)
        => IsDashboard(context.Request)
            ? "Orleans' dashboard requires 'Authorization: Bearer <Security:ApiToken>', or a visit to /orleans?access_token=<token> first."
            : null;

    private static bool IsDashboard(HttpRequest request) => request.Path.StartsWithSegments(DashboardPath, StringComparison.OrdinalIgnoreCase);

    // The page itself: where a browser arrives, and where the session dashboard's link fetches the cookie.
    private static bool IsDashboardPage(HttpRequest request)
        => HttpMethods.IsGet(request.Method)
            && (request.Path.Equals(DashboardPath, StringComparison.OrdinalIgnoreCase)
                || request.Path.Equals(DashboardPath + "/", StringComparison.OrdinalIgnoreCase)
                || request.Path.Equals(DashboardPath + "/index.html", StringComparison.OrdinalIgnoreCase));

    private void SetCookie(HttpContext context)
    {
        var expires = _time.GetUtcNow().ToUnixTimeSeconds() + (long)CookieLifetime.TotalSeconds;
        context.Response.Cookies.Append(CookieName, CookieValue(expires), new CookieOptions
        {
            Path = DashboardPath,
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            IsEssential = true,
            MaxAge = CookieLifetime,
        });
    }

    /// <summary>"{expiry, Unix seconds}.{base64url HMAC of the expiry}".</summary>
    private string CookieValue(long expires)
    {
        var expiry = expires.ToString(CultureInfo.InvariantCulture);
        return $"{expiry}.{Base64Url.EncodeToString(HMACSHA256.HashData(_cookieKey!, Encoding.ASCII.GetBytes(expiry)))}";
    }

    private bool IsValidCookie(string? cookie)
    {
        if (string.IsNullOrEmpty(cookie))
        {
            return false;
        }
        var dot = cookie.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || !long.TryParse(cookie.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var expires))
        {
            return false;
        }
        // The HMAC first, in constant time; an expiry that was not set here is refused whatever it says.
        var expected = Encoding.ASCII.GetBytes(CookieValue(expires));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(cookie), expected)
            && _time.GetUtcNow().ToUnixTimeSeconds() < expires;
    }
}
