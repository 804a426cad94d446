namespace OrleansSessions.Grains.Options;

/// <summary>The session event log, bound from the "Events" configuration section.</summary>
public sealed class EventLogOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Events";

    /// <summary>
    /// Events:Retention: how long the event log keeps an event; a reader resuming from an older cursor is refused
    /// (410 cursor_expired) rather than silently skipping what was trimmed. The janitor partitions trim it on each sweep.
    /// </summary>
    /// <value>Default 24 hours; from 1 minute to 30 days.</value>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);
}
