namespace OrleansSessions.Sessions;

/// <summary>
/// Reads the durable session event log (key: 0). Each event comes with its cursor; reading after it resumes with the
/// next event, with no gap and no duplicate, for as long as Events:Retention keeps it.
/// </summary>
/// <remarks>
/// Order: the events of one session come in the order of its changes. Across sessions, events are merged by their time
/// within each page; two sessions' events may come in another order than they happened when their times are close.
/// </remarks>
[Alias("OrleansSessions.ISessionEventLogGrain")]
public interface ISessionEventLogGrain : IGrainWithIntegerKey
{
    /// <summary>The first value of a cursor that replays every event still retained.</summary>
    public const string Start = "0";

    /// <summary>The most events one read returns.</summary>
    public const int MaxLimit = 1_000;

    /// <summary>
    /// Up to <paramref name="limit"/> events after <paramref name="after"/> (<see cref="Start"/>: from the oldest
    /// retained), only those of <paramref name="userId"/> when given. The page's cursor continues it, also when no
    /// event (or none of that user) was read.
    /// </summary>
    /// <exception cref="EventCursorExpiredException">Events after the cursor were trimmed (Events:Retention).</exception>
    /// <exception cref="ArgumentException">The cursor is malformed, the limit out of range or the user id invalid.</exception>
    [Alias("Read")]
    Task<SessionEventPage> ReadAsync(string after, int limit, string? userId = null);

    /// <summary>The cursor after the newest event recorded now: reading after it gets what comes next.</summary>
    [Alias("Head")]
    Task<string> HeadAsync();
}

/// <summary>A page of the event log.</summary>
/// <param name="Events">Events, each with its <see cref="SessionEvent.Cursor"/>.</param>
/// <param name="Cursor">Where the next read continues.</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionEventPage")]
public sealed record SessionEventPage(
    [property: Id(0)] IReadOnlyList<SessionEvent> Events,
    [property: Id(1)] string Cursor);
