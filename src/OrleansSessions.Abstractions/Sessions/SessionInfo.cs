namespace OrleansSessions.Sessions;

/// <summary>A snapshot of one session. Times are UTC.</summary>
[GenerateSerializer]
public sealed record SessionInfo
{
    /// <summary>The session id: "sess_" and a random UUIDv4.</summary>
    public required string SessionId { get; init; }

    /// <summary>The owning user.</summary>
    public required string UserId { get; init; }

    /// <summary>When the session was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The last create or touch.</summary>
    public DateTimeOffset LastActivity { get; init; }

    /// <summary>min(lastActivity + IdleTimeout, createdAt + AbsoluteTimeout): the first instant the session is no longer active.</summary>
    public DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The status as of the moment the snapshot was taken.</summary>
    public SessionStatus Status { get; init; }

    /// <summary>When the session ended; null while active.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Why the session ended; null while active.</summary>
    public EndReason? EndReason { get; init; }
}
