using OrleansSessions.Reminders;

namespace OrleansSessions.Runtime.Reminders;

/// <summary>The reminders of one activation: writes go to the table, and the owning silo (normally this one) schedules them.</summary>
internal sealed class GrainReminderRegistry(GrainId grainId, ReminderService service) : IReminderRegistry
{
    public async Task<IGrainReminder> RegisterOrUpdateReminderAsync(string reminderName, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentException.ThrowIfNullOrEmpty(reminderName);
        if (period < service.MinimumPeriod)
        {
            throw new ArgumentOutOfRangeException(nameof(period), period, $"The reminder period must be at least {service.MinimumPeriod} (Reminders:MinimumReminderPeriod).");
        }
        if (dueTime < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(dueTime), dueTime, "The due time must not be negative.");
        }
        var entry = new ReminderEntry
        {
            GrainId = grainId,
            ReminderName = reminderName,
            StartAt = service.Clock.GetUtcNow() + dueTime,
            Period = period,
        };
        var etag = await service.Table.UpsertRowAsync(entry, CancellationToken.None).ConfigureAwait(false);
        entry = entry with { ETag = etag };
        if (service.Owns(grainId))
        {
            service.Schedule(entry);
        }
        return new GrainReminder(entry);
    }

    public async Task UnregisterReminderAsync(IGrainReminder reminder)
    {
        ArgumentNullException.ThrowIfNull(reminder);
        var row = await service.Table.ReadRowAsync(grainId, reminder.ReminderName, CancellationToken.None).ConfigureAwait(false);
        if (row?.ETag is not null)
        {
            await service.Table.RemoveRowAsync(grainId, reminder.ReminderName, row.ETag, CancellationToken.None).ConfigureAwait(false);
        }
        service.Unschedule(grainId, reminder.ReminderName);
    }

    public async Task<IGrainReminder?> GetReminderAsync(string reminderName)
    {
        var row = await service.Table.ReadRowAsync(grainId, reminderName, CancellationToken.None).ConfigureAwait(false);
        return row is null ? null : new GrainReminder(row);
    }

    public async Task<IReadOnlyList<IGrainReminder>> GetRemindersAsync()
    {
        var rows = await service.Table.ReadRowsAsync(grainId, CancellationToken.None).ConfigureAwait(false);
        var result = new List<IGrainReminder>(rows.Count);
        foreach (var row in rows)
        {
            result.Add(new GrainReminder(row));
        }
        return result;
    }

    private sealed class GrainReminder(ReminderEntry entry) : IGrainReminder
    {
        public string ReminderName => entry.ReminderName;

        public TimeSpan Period => entry.Period;
    }
}
