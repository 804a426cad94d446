using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.Extensions.Options;
using OrleansSessions.AspNetCore.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace OrleansSessions.AspNetCore.Dashboard;

/// <summary>Serves the session dashboard (plain HTML and JavaScript embedded in this assembly, no build step) at the prefix's /.</summary>
internal static class DashboardEndpoints
{
    private static readonly ConcurrentDictionary<string, byte[]> Files = new(StringComparer.Ordinal);

    /// <summary>Maps / (index.html), /dashboard.js and /dashboard.css, and the API routes the page reads when it opens.</summary>
    public static IEndpointRouteBuilder MapSessionDashboard(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        // The page's links are relative, resolved against <base href>: the dashboard works under any prefix.
        endpoints.MapGet("/", (HttpRequest request, IOptions<SessionApiOptions> options) =>
        {
            var html = Encoding.UTF8.GetString(Load("index.html"));
            var basePath = $"{request.PathBase}{request.Path.Value?.TrimEnd('/')}/";
            html = html.Replace("<base href=\"/\">", $"<base href=\"{WebUtility.HtmlEncode(basePath)}\">", StringComparison.Ordinal);
            // The link to Orleans' dashboard: where the app maps it, or no link.
            html = options.Value.OrleansDashboardPath is { Length: > 0 } orleans
                ? html.Replace("href=\"/orleans/\"", $"href=\"{WebUtility.HtmlEncode(orleans)}\"", StringComparison.Ordinal)
                : html.Replace("<nav><a id=\"orleans-link\"", "<nav hidden><a id=\"orleans-link\"", StringComparison.Ordinal);
            return Results.Content(html, "text/html; charset=utf-8");
        }).ExcludeFromDescription();
        endpoints.MapGet("/dashboard.js", () => Serve("dashboard.js", "text/javascript; charset=utf-8")).ExcludeFromDescription();
        endpoints.MapGet("/dashboard.css", () => Serve("dashboard.css", "text/css; charset=utf-8")).ExcludeFromDescription();
        endpoints.MapSessionDashboardApi();
        return endpoints;
    }

    private static IResult Serve(string name, string contentType) => Results.Bytes(Load(name), contentType);

    private static byte[] Load(string name)
    {
        return Files.GetOrAdd(name, static n =>
        {
            using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("Dashboard/" + n)
                ?? throw new InvalidOperationException($"The dashboard file {n} is not embedded.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        });
    }
}
