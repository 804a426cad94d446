namespace OrleansSessions.AspNetCore.Api;

/// <summary>Access control of the HTTP API, bound from the "Security" configuration section.</summary>
public sealed class SecurityOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Security";

    /// <summary>Security:ApiToken: the shared secret every /api call must present; empty = no auth (loopback only).</summary>
    public string ApiToken { get; set; } = "";
}
