namespace OrleansSessions.Sessions;

/// <summary>A snapshot of one session. Times are UTC. Never changed after it is made, so Orleans passes it without copying.</summary>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionInfo")]
public sealed record SessionInfo
{
    /// <summary>The session id: "sess_" and a random UUIDv4.</summary>
    [Id(0)]
    public required string SessionId { get; init; }

    /// <summary>The owning user.</summary>
    [Id(1)]
    public required string UserId { get; init; }

    /// <summary>When the session was created.</summary>
    [Id(2)]
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The last create or touch.</summary>
    [Id(3)]
    public DateTimeOffset LastActivity { get; init; }

    /// <summary>min(lastActivity + IdleTimeout, createdAt + AbsoluteTimeout): the first instant the session is no longer active.</summary>
    [Id(4)]
    public DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The status as of the moment the snapshot was taken.</summary>
    [Id(5)]
    public SessionStatus Status { get; init; }

    /// <summary>When the session ended; null while active.</summary>
    [Id(6)]
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Why the session ended; null while active.</summary>
    [Id(7)]
    public EndReason? EndReason { get; init; }

    /// <summary>The labels given at creation (channel, client app, device, locale...); null when none.</summary>
    [Id(8)]
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>This session's idle timeout.</summary>
    [Id(9)]
    public TimeSpan IdleTimeout { get; init; }

    /// <summary>This session's absolute timeout.</summary>
    [Id(10)]
    public TimeSpan AbsoluteTimeout { get; init; }

    /// <summary>Incremented by every change to the attributes or the conversation; 0 for a session without data.</summary>
    [Id(11)]
    public long DataVersion { get; init; }

    /// <summary>How many messages the conversation holds (after trimming); for an ended session, how many it held at the end.</summary>
    [Id(12)]
    public int MessageCount { get; init; }

    /// <summary>The ended session this one continues; null unless created with continueFrom.</summary>
    [Id(13)]
    public string? PreviousSessionId { get; init; }
}
