namespace OrleansSessions.Sessions;

/// <summary>A lifecycle event of one session, published on the Orleans stream <see cref="SessionStreams.Namespace"/>/<see cref="SessionStreams.EventsKey"/> of the provider <see cref="SessionStreams.ProviderName"/>.</summary>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionEvent")]
public sealed record SessionEvent
{
    /// <summary>The kind of event.</summary>
    [Id(0)]
    public SessionEventType Type { get; init; }

    /// <summary>The session as of the event.</summary>
    [Id(1)]
    public required SessionInfo Session { get; init; }

    /// <summary>When the event happened (grain time).</summary>
    [Id(2)]
    public DateTimeOffset At { get; init; }

    /// <summary>
    /// Where this event is in the durable event log: read from it, a reader resumes after this event
    /// (<see cref="ISessionEventLogGrain.ReadAsync"/>, SSE <c>Last-Event-ID</c>). Opaque. Null on events from the
    /// live Orleans stream.
    /// </summary>
    /// <remarks>Not part of the event's JSON: over HTTP it is the SSE message's id.</remarks>
    [Id(3)]
    [System.Text.Json.Serialization.JsonIgnore]
    public string? Cursor { get; init; }
}
