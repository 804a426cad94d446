using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OrleansSessions.AspNetCore.Api;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// Security:ApiToken in front of Orleans' dashboard (/orleans) and the Prometheus scrape endpoint (/metrics), which
/// are not /api routes. With a token set, a request needs "Authorization: Bearer &lt;token&gt;"; a browser, whose page
/// and scripts cannot send that header to Orleans' dashboard, visits /orleans?access_token=&lt;token&gt; once (or
/// fetches /orleans/ with the header) and gets an HttpOnly, SameSite=Strict cookie for /orleans that carries a value
/// derived from the token (an HMAC), not the token itself; the visit is redirected to /orleans/ so the token leaves
/// the address bar. Every comparison takes the same time whatever is presented.
/// </summary>
internal sealed class ObservabilityAccess
{
    public const string DashboardPath = "/orleans";
    public const string MetricsPath = "/metrics";
    public const string CookieName = "orleans_sessions_dashboard";

    private readonly ApiTokenCheck _check;
    private readonly byte[]? _cookieValue;

    public ObservabilityAccess(ApiTokenCheck check, IOptions<SecurityOptions> security)
    {
        _check = check;
        var token = security.Value.ApiToken;
        _cookieValue = string.IsNullOrEmpty(token)
            ? null
            : Encoding.ASCII.GetBytes(Base64Url.EncodeToString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), "OrleansSessions /orleans cookie"u8)));
    }

    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var dashboard = request.Path.StartsWithSegments(DashboardPath, StringComparison.OrdinalIgnoreCase);
        if (_cookieValue is null || (!dashboard && !request.Path.StartsWithSegments(MetricsPath, StringComparison.OrdinalIgnoreCase)))
        {
            return next(context);
        }
        if (_check.IsAuthorized(request))
        {
            if (dashboard && IsDashboardPage(request))
            {
                SetCookie(context);
            }
            return next(context);
        }
        if (dashboard)
        {
            if (request.Query.TryGetValue("access_token", out var query) && IsDashboardPage(request))
            {
                if (_check.Matches(query.ToString()))
                {
                    SetCookie(context);
                    context.Response.Redirect($"{request.PathBase}{DashboardPath}/");
                    return Task.CompletedTask;
                }
            }
            else if (request.Cookies.TryGetValue(CookieName, out var cookie)
                && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(cookie ?? ""), _cookieValue))
            {
                return next(context);
            }
        }
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return context.Response.WriteAsJsonAsync(new ApiError("unauthorized", dashboard
            ? "Orleans' dashboard requires 'Authorization: Bearer <Security:ApiToken>', or a visit to /orleans?access_token=<token> first."
            : "This silo requires 'Authorization: Bearer <Security:ApiToken>'."));
    }

    // The page itself: where a browser arrives, and where the session dashboard's link fetches the cookie.
    private static bool IsDashboardPage(HttpRequest request)
        => HttpMethods.IsGet(request.Method)
            && (request.Path.Equals(DashboardPath, StringComparison.OrdinalIgnoreCase)
                || request.Path.Equals(DashboardPath + "/", StringComparison.OrdinalIgnoreCase)
                || request.Path.Equals(DashboardPath + "/index.html", StringComparison.OrdinalIgnoreCase));

    private void SetCookie(HttpContext context)
        => context.Response.Cookies.Append(CookieName, Encoding.ASCII.GetString(_cookieValue!), new CookieOptions
        {
            Path = DashboardPath,
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            IsEssential = true,
        });
}
