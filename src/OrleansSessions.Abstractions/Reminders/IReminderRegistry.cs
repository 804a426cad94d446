namespace OrleansSessions.Reminders;

/// <summary>The reminders of one grain.</summary>
public interface IReminderRegistry
{
    /// <summary>Registers or replaces a reminder. Throws <see cref="ArgumentOutOfRangeException"/> when the period is below the configured minimum.</summary>
    Task<IGrainReminder> RegisterOrUpdateReminderAsync(string reminderName, TimeSpan dueTime, TimeSpan period);

    /// <summary>Removes a reminder; no more ticks are delivered once this completes.</summary>
    Task UnregisterReminderAsync(IGrainReminder reminder);

    /// <summary>Returns the reminder with that name, or null.</summary>
    Task<IGrainReminder?> GetReminderAsync(string reminderName);

    /// <summary>Returns all reminders of the grain.</summary>
    Task<IReadOnlyList<IGrainReminder>> GetRemindersAsync();
}
