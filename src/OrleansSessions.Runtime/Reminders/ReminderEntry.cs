namespace OrleansSessions.Runtime.Reminders;

/// <summary>One durable reminder.</summary>
public sealed record ReminderEntry
{
    /// <summary>The grain that receives the ticks.</summary>
    public required GrainId GrainId { get; init; }

    /// <summary>The reminder's name, unique per grain.</summary>
    public required string ReminderName { get; init; }

    /// <summary>When the first tick is due.</summary>
    public DateTimeOffset StartAt { get; init; }

    /// <summary>Time between ticks.</summary>
    public TimeSpan Period { get; init; }

    /// <summary>The row version.</summary>
    public string? ETag { get; init; }
}
