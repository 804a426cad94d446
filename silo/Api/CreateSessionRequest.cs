namespace OrleansSessions.SiloHost.Api;

/// <summary>The body of POST /api/sessions.</summary>
public sealed class CreateSessionRequest
{
    /// <summary>The user the session is for (1..128 characters, no control characters).</summary>
    public string? UserId { get; set; }
}
