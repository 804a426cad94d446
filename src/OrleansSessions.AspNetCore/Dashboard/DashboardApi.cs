using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Sessions;
using OrleansSessions.AspNetCore.Api;
using OrleansSessions.Hosting;

namespace OrleansSessions.AspNetCore.Dashboard;

/// <summary>
/// What the dashboard reads when a page opens: GET /api/stats/history (the last 10 minutes of the cluster's session
/// figures) and GET /api/events/recent (the latest events, in the shape of the /api/events messages). Both sit under
/// /api with its token check and error answers.
/// </summary>
internal static class DashboardApi
{
    private const int DefaultRecentLimit = 50;

    /// <summary>
    /// Registers the history reader (each silo samples its own figures: the grain service of <c>AddOrleansSessions</c>)
    /// and the recent events.
    /// </summary>
    public static IServiceCollection AddSessionDashboard(this IServiceCollection services)
    {
        services.AddSingleton<RecentSessionEvents>();
        services.AddSingleton<SessionHistoryReader>();
        return services;
    }

    public static IEndpointRouteBuilder MapSessionDashboardApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api");
        api.RequireAuthorization(ApiTokenAuthenticationDefaults.PolicyName);
        api.AddEndpointFilter(SessionApiExtensions.MapExceptionsAsync);
        api.WithTags("dashboard");
        api.MapGet("/stats/history", (SessionHistoryReader reader, HttpContext context) => reader.ReadAsync(context.RequestAborted))
            .WithName("StatsHistory").WithSummary("The cluster's live sessions, created and ended per second and expiry lag over the last 10 minutes, every 2 s.")
            .Produces<SessionHistory>();
        api.MapGet("/events/recent", Recent)
            .WithName("RecentEvents").WithSummary($"The latest session events, newest first (?limit=N, 1 to {RecentSessionEvents.Capacity}, default {DefaultRecentLimit}; ?userId= filters).")
            .Produces<SessionEvent[]>().Produces<ApiError>(StatusCodes.Status400BadRequest);
        return endpoints;
    }

    private static IResult Recent(RecentSessionEvents recent, string? limit, string? userId)
    {
        var count = DefaultRecentLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > RecentSessionEvents.Capacity))
        {
            return ApiErrors.BadRequest("invalid_limit", $"limit must be an integer from 1 to {RecentSessionEvents.Capacity} (got '{limit}').");
        }
        if (userId is not null && !SessionKeys.IsValidUserId(userId))
        {
            return ApiErrors.BadRequest("invalid_user_id", SessionKeys.UserIdRule);
        }
        return TypedResults.Ok(recent.Latest(count, userId));
    }
}
