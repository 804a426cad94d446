namespace OrleansSessions.AspNetCore.Api;

/// <summary>The body of every 4xx/5xx answer of the HTTP API: a stable machine code and a text for people.</summary>
/// <param name="Error">The code, e.g. session_not_found, session_expired, invalid_session_id.</param>
/// <param name="Detail">What went wrong.</param>
public sealed record ApiError(string Error, string Detail);

/// <summary>The body of 413 data_too_large: which bound a session data write would exceed, and its value.</summary>
/// <param name="Error">data_too_large.</param>
/// <param name="Detail">What went wrong.</param>
/// <param name="Bound">The configuration key of the bound: Sessions:MaxAttributesBytes or Sessions:MaxConversationBytes.</param>
/// <param name="Limit">The bound's value in bytes.</param>
public sealed record DataTooLargeError(string Error, string Detail, string? Bound, long? Limit);

/// <summary>The body of 409 version_conflict: the session's data version now, to read again and retry with.</summary>
/// <param name="Error">version_conflict.</param>
/// <param name="Detail">What went wrong.</param>
/// <param name="DataVersion">The session's current data version.</param>
public sealed record VersionConflictError(string Error, string Detail, long DataVersion);
