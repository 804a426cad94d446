using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>The stored state of one session. An empty <see cref="SessionId"/> means no session exists.</summary>
[GenerateSerializer]
internal sealed class SessionState
{
    public string SessionId { get; set; } = string.Empty;

    public string UserId { get; set; } = string.Empty;

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset LastActivity { get; set; }

    /// <summary>min(LastActivity + IdleTimeout, CreatedAt + AbsoluteTimeout); only moves later while active.</summary>
    public DateTimeOffset ExpiresAt { get; set; }

    public SessionStatus Status { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    public EndReason? EndReason { get; set; }
}
