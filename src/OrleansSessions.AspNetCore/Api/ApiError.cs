namespace OrleansSessions.AspNetCore.Api;

/// <summary>The body of every 4xx/5xx answer of the HTTP API: a stable machine code and a text for people.</summary>
/// <param name="Error">The code, e.g. session_not_found, session_expired, invalid_session_id.</param>
/// <param name="Detail">What went wrong.</param>
public sealed record ApiError(string Error, string Detail);
