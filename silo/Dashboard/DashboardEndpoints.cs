using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace OrleansSessions.SiloHost.Dashboard;

/// <summary>Serves the dashboard (plain HTML and JavaScript embedded in this assembly, no build step) at /.</summary>
public static class DashboardEndpoints
{
    private static readonly ConcurrentDictionary<string, byte[]> Files = new(StringComparer.Ordinal);

    /// <summary>Maps / (index.html), /dashboard.js and /dashboard.css, and the API routes the page reads when it opens.</summary>
    public static IEndpointRouteBuilder MapSessionDashboard(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/", () => Serve("index.html", "text/html; charset=utf-8")).ExcludeFromDescription();
        endpoints.MapGet("/dashboard.js", () => Serve("dashboard.js", "text/javascript; charset=utf-8")).ExcludeFromDescription();
        endpoints.MapGet("/dashboard.css", () => Serve("dashboard.css", "text/css; charset=utf-8")).ExcludeFromDescription();
        endpoints.MapSessionDashboardApi();
        return endpoints;
    }

    private static IResult Serve(string name, string contentType)
    {
        var bytes = Files.GetOrAdd(name, static n =>
        {
            using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("Dashboard/" + n)
                ?? throw new InvalidOperationException($"The dashboard file {n} is not embedded.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        });
        return Results.Bytes(bytes, contentType);
    }
}
