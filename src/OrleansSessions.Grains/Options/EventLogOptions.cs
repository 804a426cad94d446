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

    /// <summary>
    /// Events:MemoryLimit: with the in-memory event log (the memory default), the most events each partition holds;
    /// past it the oldest are trimmed as if by <see cref="Retention"/> (readers behind them get cursor_expired).
    /// </summary>
    /// <value>Default 250,000; at least 1.</value>
    public int MemoryLimit { get; set; } = Storage.InMemorySessionEventLog.MaxEventsPerPartition;
}
