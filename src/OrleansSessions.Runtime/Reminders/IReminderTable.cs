namespace OrleansSessions.Runtime.Reminders;

/// <summary>Durable storage of reminders, readable by ranges of the grain hash ring.</summary>
public interface IReminderTable
{
    /// <summary>Creates the table if needed (idempotent).</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads reminders whose grain <see cref="GrainId.PlacementHash"/> lies in the ring range
    /// (<paramref name="beginExclusive"/>, <paramref name="endInclusive"/>]; the range wraps when begin &gt;= end
    /// (begin == end means the whole ring).
    /// </summary>
    Task<IReadOnlyList<ReminderEntry>> ReadRangeAsync(uint beginExclusive, uint endInclusive, CancellationToken cancellationToken);

    /// <summary>Reads the reminders of one grain.</summary>
    Task<IReadOnlyList<ReminderEntry>> ReadRowsAsync(GrainId grainId, CancellationToken cancellationToken);

    /// <summary>Reads one reminder, or null.</summary>
    Task<ReminderEntry?> ReadRowAsync(GrainId grainId, string reminderName, CancellationToken cancellationToken);

    /// <summary>Inserts or replaces a reminder and returns its new ETag.</summary>
    Task<string> UpsertRowAsync(ReminderEntry entry, CancellationToken cancellationToken);

    /// <summary>Deletes a reminder if its ETag matches; returns false otherwise.</summary>
    Task<bool> RemoveRowAsync(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken);
}
