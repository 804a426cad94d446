using System.Text.Json;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>The body of POST /api/sessions. Everything but userId is optional; {"userId"} alone is a plain create.</summary>
public sealed class CreateSessionRequest
{
    /// <summary>The user the session is for (see SessionKeys.UserIdRule).</summary>
    public string? UserId { get; set; }

    /// <summary>At most 16 string pairs (channel, client app, device, locale...): keys of 1-128 characters of [A-Za-z0-9._:-], values up to 256 characters.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Initial attributes: key to any JSON value, at most Sessions:MaxAttributesBytes in all.</summary>
    public IReadOnlyDictionary<string, JsonElement>? Attributes { get; init; }

    /// <summary>This session's idle timeout, an ISO-8601 duration ("PT5M") or "hh:mm:ss": from 1 s to Sessions:MaxIdleTimeout.</summary>
    public string? IdleTimeout { get; init; }

    /// <summary>This session's absolute timeout, an ISO-8601 duration ("PT8H") or "hh:mm:ss": from 1 s to Sessions:MaxAbsoluteTimeout.</summary>
    public string? AbsoluteTimeout { get; init; }

    /// <summary>An ended session of the same user whose data is retained (Sessions:DataRetention): the new session starts with its attributes, labels and last messages.</summary>
    public string? ContinueFrom { get; init; }
}
