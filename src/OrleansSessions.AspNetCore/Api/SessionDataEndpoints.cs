using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// The handlers of a session's data: its attributes and its conversation. Bodies are read here (<see cref="RequestBody"/>),
/// so a malformed one is a 400, never a 500; the grains check keys, roles and bounds. Nothing here logs or echoes a
/// value, a content or metadata: they are users' words.
/// </summary>
internal static class SessionDataEndpoints
{
    public static async Task<IResult> GetAttributesAsync(string sessionId, IGrainFactory grains)
    {
        if (!SessionKeys.IsValidSessionId(sessionId))
        {
            return InvalidSessionId();
        }
        var attributes = await grains.GetGrain<ISessionGrain>(sessionId).GetAttributesAsync().ConfigureAwait(false);
        return TypedResults.Ok(AttributesResponse.From(attributes));
    }

    public static async Task<IResult> UpdateAttributesAsync(string sessionId, HttpRequest request, IGrainFactory grains, IOptions<SessionApiOptions> options)
    {
        if (!SessionKeys.IsValidSessionId(sessionId))
        {
            return InvalidSessionId();
        }
        if (!RequestBody.IsJson(request))
        {
            return UnsupportedMediaType();
        }
        Dictionary<string, string?> changes;
        long? ifVersion;
        using (var document = await RequestBody.ReadAsync(request, options.Value.MaxSessionDataBodySize).ConfigureAwait(false))
        {
            if (document?.RootElement is not { ValueKind: System.Text.Json.JsonValueKind.Object } body)
            {
                return ApiErrors.BadRequest("invalid_json", "The body must be a JSON object such as {\"attributes\": {\"locale\": \"en\", \"cart\": null}, \"ifVersion\": 3}.");
            }
            try
            {
                changes = RequestBody.Attributes(body, required: true)!;
                ifVersion = RequestBody.IfVersion(body);
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
        var updated = await grains.GetGrain<ISessionGrain>(sessionId).UpdateAttributesAsync(changes, ifVersion).ConfigureAwait(false);
        return TypedResults.Ok(AttributesResponse.From(updated));
    }

    /// <summary>The last ?limit= messages (all held without it), or with ?after= the first ?limit= with a larger id; oldest first.</summary>
    public static async Task<IResult> GetMessagesAsync(string sessionId, string? limit, string? after, IGrainFactory grains)
    {
        if (!SessionKeys.IsValidSessionId(sessionId))
        {
            return InvalidSessionId();
        }
        int? count = null;
        if (limit is not null)
        {
            if (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed < 1 || parsed > SessionPage.MaxLimit)
            {
                return ApiErrors.BadRequest("invalid_limit", $"limit must be an integer from 1 to {SessionPage.MaxLimit} (got '{limit}').");
            }
            count = parsed;
        }
        long? cursor = null;
        if (after is not null)
        {
            if (!long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                return ApiErrors.BadRequest("invalid_cursor", $"after must be a message id, a whole number >= 0 (got '{after}').");
            }
            cursor = parsed;
        }
        var conversation = await grains.GetGrain<ISessionGrain>(sessionId).GetMessagesAsync(count, cursor).ConfigureAwait(false);
        return TypedResults.Ok(MessagesResponse.From(conversation));
    }

    public static async Task<IResult> AppendMessagesAsync(string sessionId, HttpRequest request, IGrainFactory grains, IOptions<SessionApiOptions> options)
    {
        if (!SessionKeys.IsValidSessionId(sessionId))
        {
            return InvalidSessionId();
        }
        List<NewSessionMessage> messages;
        long? ifVersion;
        using (var document = await RequestBody.ReadAsync(request, options.Value.MaxSessionDataBodySize).ConfigureAwait(false))
        {
            if (document?.RootElement is not { ValueKind: System.Text.Json.JsonValueKind.Object } body)
            {
                return ApiErrors.BadRequest("invalid_json", "The body must be a JSON object such as {\"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}.");
            }
            try
            {
                messages = RequestBody.Messages(body);
                ifVersion = RequestBody.IfVersion(body);
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
        var appended = await grains.GetGrain<ISessionGrain>(sessionId).AppendMessagesAsync(messages, ifVersion).ConfigureAwait(false);
        return TypedResults.Ok(AppendMessagesResponse.From(appended));
    }

    private static IResult InvalidSessionId() => ApiErrors.BadRequest("invalid_session_id", SessionKeys.SessionIdRule);

    // A PATCH always has a body: only application/json, as the silo asks of a POST with one.
    private static IResult UnsupportedMediaType() => TypedResults.Json(
        new ApiError("unsupported_media_type", "A PATCH to /api needs 'Content-Type: application/json'."),
        statusCode: StatusCodes.Status415UnsupportedMediaType);
}
