using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;
using Orleans.Runtime;
using OrleansSessions.Sessions;
using OrleansSessions.SiloHost.Cluster;
using OrleansSessions.SiloHost.Hosting;

namespace OrleansSessions.SiloHost.Api;

/// <summary>Adds the session service's HTTP API (see docs: DESIGN "External contracts") to a silo's web application.</summary>
public static partial class SessionApiExtensions
{
    /// <summary>Registers what <see cref="MapSessionApi"/> needs: JSON conventions, the token check, cluster figures and OpenAPI.</summary>
    public static IServiceCollection AddSessionApi(this IServiceCollection services, Action<SessionApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SessionApiOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        services.AddOptions<SecurityOptions>().BindConfiguration(SecurityOptions.SectionName);
        services.ConfigureHttpJsonOptions(o => SessionJson.Configure(o.SerializerOptions));
        services.AddSingleton<ApiTokenCheck>();
        services.AddSingleton<ClusterStatusReader>();
        services.AddOpenApi();
        return services;
    }

    /// <summary>
    /// Maps /api/* (token-checked when Security:ApiToken is set), /healthz and the OpenAPI document at /openapi/v1.json.
    /// Known failures of grain calls become 400/404/409/503 with an {"error","detail"} body.
    /// </summary>
    public static IEndpointRouteBuilder MapSessionApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapOpenApi();
        // Readiness tied to membership: 200 once this silo is Active in the cluster, 503 while it joins or leaves.
        // With Security:ApiToken set, only a caller presenting the token learns the silo's address.
        endpoints.MapMethods("/healthz", [HttpMethods.Get, HttpMethods.Head], (ISiloStatusOracle oracle, ApiTokenCheck check, HttpRequest request) => oracle.CurrentStatus == SiloStatus.Active
                ? (check.Required && !check.IsAuthorized(request) ? Results.Ok(new { status = "ok" }) : Results.Ok(new { status = "ok", silo = oracle.SiloAddress.ToParsableString() }))
                : Results.Json(new { status = ClusterStatusReader.StatusName(oracle.CurrentStatus) }, statusCode: StatusCodes.Status503ServiceUnavailable))
            .WithName("Health").WithSummary("200 when the silo serves (GET or HEAD).");

        var api = endpoints.MapGroup("/api");
        api.AddEndpointFilter(CheckTokenAsync);
        api.AddEndpointFilter(MapExceptionsAsync);
        api.WithTags("sessions");

        api.MapPost("/sessions", SessionEndpoints.CreateSessionAsync)
            .WithName("CreateSession").WithSummary("Creates a session for a user.")
            // Described, not enforced: an Accepts constraint would answer a missing content type with a bare 415.
            .AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
            {
                var schema = await context.GetOrCreateSchemaAsync(typeof(CreateSessionRequest), null, cancellationToken).ConfigureAwait(false);
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) { ["application/json"] = new OpenApiMediaType { Schema = schema } },
                };
            })
            .Produces<SessionInfo>(StatusCodes.Status201Created)
            .Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status409Conflict);
        api.MapGet("/sessions/{sessionId}", SessionEndpoints.GetSessionAsync)
            .WithName("GetSession").WithSummary("The session's state, also after it ended (while in its user's history).")
            .Produces<SessionInfo>().Produces<ApiError>(StatusCodes.Status400BadRequest).Produces<ApiError>(StatusCodes.Status404NotFound);
        api.MapPost("/sessions/{sessionId}/touch", SessionEndpoints.TouchSessionAsync)
            .WithName("TouchSession").WithSummary("Records activity, sliding the idle deadline.")
            .Produces<SessionInfo>().Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status404NotFound).Produces<ApiError>(StatusCodes.Status409Conflict);
        api.MapDelete("/sessions/{sessionId}", SessionEndpoints.CloseSessionAsync)
            .WithName("CloseSession").WithSummary("Logs the session out; an ended session is returned unchanged.")
            .Produces<SessionInfo>().Produces<ApiError>(StatusCodes.Status400BadRequest).Produces<ApiError>(StatusCodes.Status404NotFound);
        api.MapGet("/users/{userId}/sessions", SessionEndpoints.GetUserSessionsAsync)
            .WithName("GetUserSessions").WithSummary("The user's live sessions, oldest first.")
            .Produces<SessionInfo[]>().Produces<ApiError>(StatusCodes.Status400BadRequest);
        api.MapGet("/users/{userId}/history", SessionEndpoints.GetUserHistoryAsync)
            .WithName("GetUserHistory").WithSummary("The user's ended sessions, newest first (?limit=N, default 100).")
            .Produces<SessionInfo[]>().Produces<ApiError>(StatusCodes.Status400BadRequest);
        api.MapDelete("/users/{userId}/sessions", SessionEndpoints.CloseUserSessionsAsync)
            .WithName("CloseUserSessions").WithSummary("Logs out every live session of the user.")
            .Produces<ClosedCount>().Produces<ApiError>(StatusCodes.Status400BadRequest);
        api.MapPost("/janitor/run", SessionEndpoints.RunJanitorAsync)
            .WithName("RunJanitor").WithSummary("Sweeps every janitor partition now.")
            .Produces<ExpiredCount>();
        api.MapGet("/events", SessionEventStream.StreamAsync)
            .WithName("Events").WithSummary("Session events as server-sent events (?userId= filters).")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream").Produces<ApiError>(StatusCodes.Status400BadRequest);
        api.MapGet("/cluster", (ClusterStatusReader reader, HttpContext context) => reader.ReadAsync(context.RequestAborted))
            .WithName("Cluster").WithSummary("The silos and the cluster's session counts.");
        api.MapGet("/cluster/silo", (ClusterStatusReader reader) => reader.LocalStatsAsync())
            .WithName("SiloStats").WithSummary("This silo's own figures (read by its peers).");
        return endpoints;
    }

    internal static async ValueTask<object?> CheckTokenAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var check = context.HttpContext.RequestServices.GetRequiredService<ApiTokenCheck>();
        if (!check.IsAuthorized(context.HttpContext.Request))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return ApiErrors.Unauthorized("This silo requires 'Authorization: Bearer <Security:ApiToken>'.");
        }
        return await next(context).ConfigureAwait(false);
    }

    internal static async ValueTask<object?> MapExceptionsAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ApiErrors.TryMap(ex, out var result))
        {
            return result;
        }
        catch (Exception ex) when (!context.HttpContext.RequestAborted.IsCancellationRequested)
        {
            var logger = context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansSessions.SiloHost.Api");
            LogUnexpected(logger, ex, context.HttpContext.Request.Method, context.HttpContext.Request.Path);
            return Results.Json(new ApiError("internal_error", "The silo failed to handle the request; see its log."), statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method, string path);
}
