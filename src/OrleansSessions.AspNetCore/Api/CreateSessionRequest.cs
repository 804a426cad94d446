namespace OrleansSessions.AspNetCore.Api;

/// <summary>The body of POST /api/sessions.</summary>
public sealed class CreateSessionRequest
{
    /// <summary>The user the session is for (see SessionKeys.UserIdRule).</summary>
    public string? UserId { get; set; }
}
