namespace OrleansSessions.Sessions;

/// <summary>A lifecycle event of one session, published on <see cref="SessionTopics.Events"/>.</summary>
[GenerateSerializer]
public sealed record SessionEvent
{
    /// <summary>The kind of event.</summary>
    public SessionEventType Type { get; init; }

    /// <summary>The session as of the event.</summary>
    public required SessionInfo Session { get; init; }

    /// <summary>When the event happened (grain time).</summary>
    public DateTimeOffset At { get; init; }
}
