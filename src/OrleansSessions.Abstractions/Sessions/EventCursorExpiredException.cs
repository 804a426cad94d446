namespace OrleansSessions.Sessions;

/// <summary>Events after a cursor were trimmed from the log (Events:Retention): HTTP 410 cursor_expired.</summary>
[GenerateSerializer, Alias("OrleansSessions.EventCursorExpiredException")]
public sealed class EventCursorExpiredException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EventCursorExpiredException() : base("Events after this cursor are no longer retained.") { }

    /// <summary>Creates the exception with a message.</summary>
    public EventCursorExpiredException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public EventCursorExpiredException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with the oldest cursor still held.</summary>
    public EventCursorExpiredException(string message, string oldestCursor) : base(message) => OldestCursor = oldestCursor;

    /// <summary>The cursor before the oldest event still retained: reading after it replays them all.</summary>
    [Id(0)]
    public string OldestCursor { get; private set; } = ISessionEventLogGrain.Start;
}
