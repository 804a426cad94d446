using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace OrleansSessions.AspNetCore.Dashboard;

/// <summary>Serves the session dashboard (plain HTML and JavaScript embedded in this assembly, no build step) at the prefix's /.</summary>
internal static class DashboardEndpoints
{
    private static readonly ConcurrentDictionary<string, byte[]> Files = new(StringComparer.Ordinal);

    /// <summary>Maps / (index.html), /dashboard.js and /dashboard.css.</summary>
    public static IEndpointRouteBuilder MapSessionDashboard(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        // The page's links are relative, resolved against <base href>: the dashboard works under any prefix.
        endpoints.MapGet("/", (HttpRequest request) =>
        {
            var html = Encoding.UTF8.GetString(Load("index.html"));
            var basePath = $"{request.PathBase}{request.Path.Value?.TrimEnd('/')}/";
            return Results.Content(html.Replace("<base href=\"/\">", $"<base href=\"{System.Net.WebUtility.HtmlEncode(basePath)}\">", StringComparison.Ordinal), "text/html; charset=utf-8");
        }).ExcludeFromDescription();
        endpoints.MapGet("/dashboard.js", () => Serve("dashboard.js", "text/javascript; charset=utf-8")).ExcludeFromDescription();
        endpoints.MapGet("/dashboard.css", () => Serve("dashboard.css", "text/css; charset=utf-8")).ExcludeFromDescription();
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
