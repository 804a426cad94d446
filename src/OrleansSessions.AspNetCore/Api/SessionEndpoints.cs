using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OrleansSessions.Sessions;
using OrleansSessions.Silos;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>The handlers of the session endpoints. Every input is checked here, so a caller's mistake is a 400, never a 500.</summary>
internal static class SessionEndpoints
{
    private const string InvalidSessionIdDetail = SessionKeys.SessionIdRule;
    private const string InvalidUserIdDetail = SessionKeys.UserIdRule;
    private const int MaxHistoryLimit = 10_000;

    /// <summary>The request header that makes a create safe to retry (the IETF httpapi idempotency-key draft's name).</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>
    /// Creates a session: {"userId"} alone as before this API knew session details; with "labels", "attributes",
    /// "idleTimeout", "absoluteTimeout" or "continueFrom", through the create that takes them. The Idempotency-Key
    /// header works with both.
    /// </summary>
    public static async Task<IResult> CreateSessionAsync(HttpRequest request, IGrainFactory grains)
    {
        string? userId;
        SessionCreateRequest? details;
        using (var document = await RequestBody.ReadAsync(request).ConfigureAwait(false))
        {
            if (document is null)
            {
                return ApiErrors.BadRequest("invalid_json", "The body is empty or not valid JSON; send a JSON object such as {\"userId\": \"alice\"}.");
            }
            var root = document.RootElement;
            if (root.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            {
                return ApiErrors.BadRequest("invalid_json", "The body must be a JSON object such as {\"userId\": \"alice\"}.");
            }
            try
            {
                userId = root.ValueKind == JsonValueKind.Object ? RequestBody.String(root, "userId") : null;
                if (userId is null)
                {
                    return ApiErrors.BadRequest("missing_user_id", "The body must have a \"userId\".");
                }
                if (!SessionKeys.IsValidUserId(userId))
                {
                    return ApiErrors.BadRequest("invalid_user_id", InvalidUserIdDetail);
                }
                details = ReadDetails(root);
            }
            catch (InvalidBodyException e)
            {
                return ApiErrors.BadRequest(e.Code, e.Message);
            }
            catch (InvalidOperationException)
            {
                return RequestBody.NotText();
            }
        }
        string? idempotencyKey = null;
        if (request.Headers.TryGetValue(IdempotencyKeyHeader, out var keys))
        {
            if (keys.Count != 1 || !SessionKeys.IsValidIdempotencyKey(keys[0]))
            {
                return ApiErrors.BadRequest("invalid_idempotency_key", SessionKeys.IdempotencyKeyRule + " Send one Idempotency-Key header.");
            }
            idempotencyKey = keys[0];
        }
        var user = grains.GetGrain<IUserSessionsGrain>(userId);
        var info = (details, idempotencyKey) switch
        {
            (null, null) => await user.CreateSessionAsync().ConfigureAwait(false),
            (null, { } key) => await user.CreateSessionAsync(key).ConfigureAwait(false),
            ({ } with, var key) => await user.CreateSessionAsync(with, key).ConfigureAwait(false),
        };
        return TypedResults.Created($"{request.PathBase}{request.Path.Value?.TrimEnd('/')}/{info.SessionId}", info);
    }

    /// <summary>The session details of a create body; null when it has none (a plain create).</summary>
    private static SessionCreateRequest? ReadDetails(JsonElement body)
    {
        var labels = RequestBody.Labels(body);
        var attributes = RequestBody.Attributes(body, required: false);
        var idleTimeout = RequestBody.Timeout(body, "idleTimeout");
        var absoluteTimeout = RequestBody.Timeout(body, "absoluteTimeout");
        var continueFrom = RequestBody.String(body, "continueFrom");
        if (continueFrom is not null && !SessionKeys.IsValidSessionId(continueFrom))
        {
            throw new InvalidBodyException("invalid_session_id", "\"continueFrom\": " + InvalidSessionIdDetail);
        }
        if (labels is null && attributes is null && idleTimeout is null && absoluteTimeout is null && continueFrom is null)
        {
            return null;
        }
        Dictionary<string, string>? initial = null;
        if (attributes is not null)
        {
            // A new session has nothing to remove: a null value sets nothing.
            initial = new Dictionary<string, string>(attributes.Count, StringComparer.Ordinal);
            foreach (var (key, value) in attributes)
            {
                if (value is not null)
                {
                    initial[key] = value;
                }
            }
        }
        return new SessionCreateRequest
        {
            Labels = labels,
            Attributes = initial,
            IdleTimeout = idleTimeout,
            AbsoluteTimeout = absoluteTimeout,
            ContinueFrom = continueFrom,
        };
    }

    public static async Task<IResult> GetSessionAsync(string sessionId, IGrainFactory grains)
        => SessionKeys.IsValidSessionId(sessionId)
            ? TypedResults.Ok(await grains.GetGrain<ISessionGrain>(sessionId).GetAsync().ConfigureAwait(false))
            : ApiErrors.BadRequest("invalid_session_id", InvalidSessionIdDetail);

    // Concurrent requests share calls to the silos (SessionToucher); each gets its own session's answer.
    public static async Task<IResult> TouchSessionAsync(string sessionId, SessionToucher toucher)
        => SessionKeys.IsValidSessionId(sessionId)
            ? TypedResults.Ok(await toucher.TouchAsync(sessionId).ConfigureAwait(false))
            : ApiErrors.BadRequest("invalid_session_id", InvalidSessionIdDetail);

    public static async Task<IResult> CloseSessionAsync(string sessionId, IGrainFactory grains)
        => SessionKeys.IsValidSessionId(sessionId)
            ? TypedResults.Ok(await grains.GetGrain<ISessionGrain>(sessionId).CloseAsync().ConfigureAwait(false))
            : ApiErrors.BadRequest("invalid_session_id", InvalidSessionIdDetail);

    /// <summary>The response header with the user's count of live sessions.</summary>
    public const string TotalCountHeader = "X-Total-Count";

    /// <summary>
    /// A page of the user's live sessions, oldest first (?limit=, default <see cref="SessionPage.DefaultLimit"/>, at most
    /// <see cref="SessionPage.MaxLimit"/>; ?after= a session id, the last of the previous page). The body stays a JSON
    /// array; X-Total-Count says how many are live, and a Link header with rel="next" names the next page when there is one.
    /// </summary>
    public static async Task<IResult> GetUserSessionsAsync(string userId, string? limit, string? after, HttpContext context, IGrainFactory grains)
    {
        if (!SessionKeys.IsValidUserId(userId))
        {
            return ApiErrors.BadRequest("invalid_user_id", InvalidUserIdDetail);
        }
        var count = SessionPage.DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1 || count > SessionPage.MaxLimit))
        {
            return ApiErrors.BadRequest("invalid_limit", $"limit must be an integer from 1 to {SessionPage.MaxLimit} (got '{limit}').");
        }
        if (after is not null && !SessionKeys.IsValidSessionId(after))
        {
            return ApiErrors.BadRequest("invalid_cursor", $"after must be a session id from the previous page's Link header (got '{after}').");
        }
        SessionPage page;
        try
        {
            page = await grains.GetGrain<IUserSessionsGrain>(userId).GetActiveSessionsPageAsync(count, after).ConfigureAwait(false);
        }
        catch (ArgumentException e) when (e.ParamName == "after")
        {
            return ApiErrors.BadRequest("invalid_cursor", $"after '{after}' is not a live session of this user (or it ended too long ago); read again from the first page.");
        }
        var response = context.Response;
        response.Headers[TotalCountHeader] = page.Total.ToString(CultureInfo.InvariantCulture);
        if (page.Next is { } next)
        {
            var request = context.Request;
            var path = $"{request.PathBase}{request.Path}?limit={count.ToString(CultureInfo.InvariantCulture)}&after={Uri.EscapeDataString(next)}";
            response.Headers.Link = $"<{path}>; rel=\"next\"";
        }
        return TypedResults.Ok(page.Sessions);
    }

    public static async Task<IResult> GetUserHistoryAsync(string userId, string? limit, IGrainFactory grains, IOptions<SessionApiOptions> options)
    {
        if (!SessionKeys.IsValidUserId(userId))
        {
            return ApiErrors.BadRequest("invalid_user_id", InvalidUserIdDetail);
        }
        var count = options.Value.DefaultHistoryLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count > MaxHistoryLimit))
        {
            return ApiErrors.BadRequest("invalid_limit", $"limit must be an integer from 0 to {MaxHistoryLimit} (got '{limit}').");
        }
        return TypedResults.Ok(await grains.GetGrain<IUserSessionsGrain>(userId).GetHistoryAsync(count).ConfigureAwait(false));
    }

    public static async Task<IResult> CloseUserSessionsAsync(string userId, IGrainFactory grains)
        => SessionKeys.IsValidUserId(userId)
            ? TypedResults.Ok(new ClosedCount(await grains.GetGrain<IUserSessionsGrain>(userId).CloseAllAsync().ConfigureAwait(false)))
            : ApiErrors.BadRequest("invalid_user_id", InvalidUserIdDetail);

    public static async Task<IResult> RunJanitorAsync(IGrainFactory grains)
        => TypedResults.Ok(new ExpiredCount(await grains.GetGrain<IJanitorSweepGrain>(0).SweepAllAsync().ConfigureAwait(false)));
}
