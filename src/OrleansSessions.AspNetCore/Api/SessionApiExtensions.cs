using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;
using Microsoft.Extensions.Options;
using OrleansSessions.AspNetCore.Api;
using OrleansSessions.AspNetCore.Cluster;
using OrleansSessions.AspNetCore.Dashboard;
using OrleansSessions.Client;
using OrleansSessions.Sessions;
using OrleansSessions.Silos;

namespace OrleansSessions.Hosting;

/// <summary>
/// The session service's HTTP API, server-sent events and session dashboard as endpoints of any ASP.NET Core app that
/// is an Orleans silo (<c>UseOrleans</c> with <c>AddOrleansSessions</c>) or has an Orleans client
/// (<c>UseOrleansClient</c> with <c>UseOrleansSessions</c>).
/// </summary>
public static partial class SessionApiExtensions
{
    /// <summary>
    /// Registers what <see cref="MapOrleansSessionsApi"/> needs: <see cref="SessionApiOptions"/>, the token check
    /// (<see cref="SecurityOptions"/> bound from the "Security" section: Security:ApiToken) as the authentication scheme
    /// and authorization policy <see cref="ApiTokenAuthenticationDefaults.PolicyName"/>, the JSON conventions, the
    /// cluster figures (read from each silo's ISiloSessionsGrain, which AddOrleansSessions hosts), the
    /// app's one subscription to the session events stream, and the OpenAPI document. Calling it twice does nothing more.
    /// </summary>
    public static IServiceCollection AddOrleansSessionsApi(this IServiceCollection services, Action<SessionApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SessionApiOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        if (services.Any(d => d.ServiceType == typeof(ApiTokenCheck)))
        {
            return services;
        }
        services.AddOptions<SecurityOptions>().BindConfiguration(SecurityOptions.SectionName);
        services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ApiTokenCheck>();
        services.AddAuthentication()
            .AddScheme<ApiTokenAuthenticationOptions, ApiTokenAuthenticationHandler>(ApiTokenAuthenticationDefaults.AuthenticationScheme, null);
        services.AddAuthorizationBuilder().AddPolicy(ApiTokenAuthenticationDefaults.PolicyName, policy => policy
            .AddAuthenticationSchemes(ApiTokenAuthenticationDefaults.AuthenticationScheme)
            .RequireAuthenticatedUser());
        services.AddSingleton<ClusterStatusReader>();
        services.AddSessionToucher();
        // On a silo, its ISiloSessionsGrain reports the HTTP port with its figures.
        services.AddOptions<SiloSessionsOptions>().Configure<IOptions<SessionApiOptions>>((silo, api) => silo.HttpPort = api.Value.HttpPort);
        services.AddSessionDashboard();
        services.AddSingleton<SessionEventHub>();
        services.AddHostedService<SessionEventHubStarter>();
        services.AddOpenApi();
        return services;
    }

    /// <summary>
    /// Maps, under <paramref name="prefix"/> ("" for the root): /api/* (requiring the <see cref="ApiTokenAuthenticationDefaults.PolicyName"/> policy, which lets
    /// everyone in while Security:ApiToken is empty; the app needs authentication and authorization middleware, which
    /// WebApplication adds by itself),
    /// /healthz, the OpenAPI document at /openapi/v1.json and the session dashboard at /. Known failures of grain
    /// calls become 400/404/409/410/413/503 with an {"error","detail"} body. Returns the group, for conventions such as
    /// authorization policies.
    /// </summary>
    public static RouteGroupBuilder MapOrleansSessionsApi(this IEndpointRouteBuilder endpoints, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length > 0 && (!prefix.StartsWith('/') || prefix.EndsWith('/')))
        {
            throw new ArgumentException("The prefix must be empty or start with '/' and not end with one, e.g. \"/sessions\".", nameof(prefix));
        }
        var root = endpoints.MapGroup(prefix);
        root.MapOpenApi();
        // Readiness: on a silo, 200 once it is Active in the cluster, 503 while it joins or leaves; on a client app,
        // 200 while it runs. With Security:ApiToken set, only a caller presenting the token learns the silo's address.
        root.MapMethods("/healthz", [HttpMethods.Get, HttpMethods.Head], Health)
            .WithName("Health").WithSummary("200 when the silo serves (GET or HEAD).");

        var api = root.MapGroup("/api");
        api.RequireAuthorization(ApiTokenAuthenticationDefaults.PolicyName);
        api.AddEndpointFilter(MapExceptionsAsync);
        api.WithTags("sessions");
        api.MapPost("/sessions", SessionEndpoints.CreateSessionAsync)
            .WithName("CreateSession").WithSummary("Creates a session for a user, with optional labels, attributes, its own timeouts, or as the continuation of an ended session.")
            .WithJsonBody<CreateSessionRequest>()
            .Produces<SessionInfo>(StatusCodes.Status201Created)
            .Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status404NotFound)
            .Produces<ApiError>(StatusCodes.Status409Conflict)
            .Produces<ApiError>(StatusCodes.Status410Gone)
            .Produces<DataTooLargeError>(StatusCodes.Status413PayloadTooLarge);
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
        api.MapGet("/sessions/{sessionId}/attributes", SessionDataEndpoints.GetAttributesAsync)
            .WithName("GetAttributes").WithSummary("The session's attributes and data version; readable after its end while Sessions:DataRetention keeps them (then 410).")
            .Produces<AttributesResponse>().Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status404NotFound).Produces<ApiError>(StatusCodes.Status410Gone);
        api.MapPatch("/sessions/{sessionId}/attributes", SessionDataEndpoints.UpdateAttributesAsync)
            .WithName("UpdateAttributes").WithSummary("Sets attributes and removes those set to null in one write, which is activity; with ifVersion only at that data version.")
            .WithJsonBody<UpdateAttributesRequest>()
            .Produces<AttributesResponse>().Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status404NotFound).Produces<VersionConflictError>(StatusCodes.Status409Conflict)
            .Produces<DataTooLargeError>(StatusCodes.Status413PayloadTooLarge).Produces<ApiError>(StatusCodes.Status415UnsupportedMediaType);
        api.MapGet("/sessions/{sessionId}/messages", SessionDataEndpoints.GetMessagesAsync)
            .WithName("GetMessages").WithSummary($"The conversation, oldest first: the last ?limit=N (1 to {SessionPage.MaxLimit}; all held without it), or with ?after=ID those after that message id.")
            .Produces<MessagesResponse>().Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status404NotFound).Produces<ApiError>(StatusCodes.Status410Gone);
        api.MapPost("/sessions/{sessionId}/messages", SessionDataEndpoints.AppendMessagesAsync)
            .WithName("AppendMessages").WithSummary("Appends messages in one write, which is activity; past Sessions:ConversationLimit or Sessions:MaxConversationBytes the oldest are dropped.")
            .WithJsonBody<AppendMessagesRequest>()
            .Produces<AppendMessagesResponse>().Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status404NotFound).Produces<VersionConflictError>(StatusCodes.Status409Conflict)
            .Produces<DataTooLargeError>(StatusCodes.Status413PayloadTooLarge);
        api.MapGet("/users/{userId}/sessions", SessionEndpoints.GetUserSessionsAsync)
            .WithName("GetUserSessions")
            .WithSummary("A page of the user's live sessions, oldest first (?limit=N, default 100, max 1000; ?after=<session id>); X-Total-Count and Link rel=\"next\" headers.")
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
            .WithName("Events").WithSummary("Session events as server-sent events, each with its cursor as the SSE id (?userId= filters; Last-Event-ID or ?after=<cursor> resumes after it, replaying the event log first; 0 replays everything retained; 410 cursor_expired past Events:Retention).")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream").Produces<ApiError>(StatusCodes.Status400BadRequest).Produces<ApiError>(StatusCodes.Status410Gone);
        api.MapGet("/cluster", (ClusterStatusReader reader, HttpContext context) => reader.ReadAsync(context.RequestAborted))
            .WithName("Cluster").WithSummary("The silos and the cluster's session counts.");
        api.MapGet("/cluster/silo", async (ClusterStatusReader reader) => await reader.LocalStatsAsync().ConfigureAwait(false) is { } stats
                ? Results.Ok(stats)
                : ApiErrors.NotFound("not_a_silo", "This app is an Orleans client, not a silo: it has no figures of its own."))
            .WithName("SiloStats").WithSummary("This silo's own figures (read by its peers).");
        root.MapSessionDashboard();
        return root;
    }

    /// <summary>
    /// Describes the route's JSON body as <typeparamref name="TBody"/> in the OpenAPI document. Described, not enforced:
    /// an Accepts constraint would answer a missing content type with a bare 415, and the handlers read the body
    /// themselves so that a malformed one is a 400 with an error code.
    /// </summary>
    private static RouteHandlerBuilder WithJsonBody<TBody>(this RouteHandlerBuilder builder)
        => builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(TBody), null, cancellationToken).ConfigureAwait(false);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) { ["application/json"] = new OpenApiMediaType { Schema = schema } },
            };
        });

    private static async Task<IResult> Health(IServiceProvider services, HttpContext context)
    {
        if (services.GetService<ILocalSiloStatus>() is not { } oracle)
        {
            return Results.Ok(new { status = "ok" });
        }
        if (oracle.CurrentStatus != SiloStatus.Active)
        {
            return Results.Json(new { status = ClusterStatusReader.StatusName(oracle.CurrentStatus) }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        // Open to all; the silo's address only to a caller the ApiToken scheme authenticates (anyone without a token set).
        var authenticated = await context.AuthenticateAsync(ApiTokenAuthenticationDefaults.AuthenticationScheme).ConfigureAwait(false);
        return authenticated.Succeeded
            ? Results.Ok(new { status = "ok", silo = oracle.SiloAddress.ToParsableString() })
            : Results.Ok(new { status = "ok" });
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
            var logger = context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansSessions.AspNetCore.Api");
            LogUnexpected(logger, ex, context.HttpContext.Request.Method, context.HttpContext.Request.Path);
            return Results.Json(new ApiError("internal_error", "The silo failed to handle the request; see its log."), statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method, string path);
}
