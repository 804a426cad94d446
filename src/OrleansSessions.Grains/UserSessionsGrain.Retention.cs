using Orleans.Runtime;
using Orleans.Storage;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The user grain's retention: Sessions:HistoryRetention applied through the user's row in the deadline index, swept by
/// the janitor partition that holds it; and the move of records of earlier versions off their per-user reminder.
/// </summary>
internal sealed partial class UserSessionsGrain
{
    /// <summary>The key of this user's history-retention row in the deadline index.</summary>
    private string RetentionKey => DeadlineKeys.History(UserId);

    /// <summary>The janitor partition of <see cref="RetentionKey"/>.</summary>
    private int RetentionPartition => SessionDeadlinePartitioner.GetPartition(RetentionKey, _services.Janitor.Partitions);

    /// <summary>
    /// Applies Sessions:HistoryRetention: sessions that ended unheard move to history, expired history entries are
    /// dropped; then the row moves to the next entry's expiry, or, once the user has no live session and no history,
    /// the stored record is deleted, then the row, and the grain deactivates. A user with live sessions loses the row:
    /// the write that records the last one's end writes it again. Idempotent; a user with no record only loses the row.
    /// </summary>
    public async Task<bool> ApplyRetentionAsync()
    {
        if (!_validKey)
        {
            DeactivateOnIdle();
            return await TryRemoveRetentionRowAsync();
        }
        var state = _state.State;
        await MigrateRetentionReminderAsync();
        if (!_state.RecordExists && state.IsEmpty && _toForget.Count == 0)
        {
            // Deleted by an earlier call whose removal of the row failed, or never stored: only the row is left.
            DeactivateOnIdle();
            return await TryRemoveRetentionRowAsync();
        }
        if (_live.Count > 0)
        {
            // Sessions that ended unheard move to history here; live ones stop the retention until they end.
            await RefreshAsync(_live.All());
        }
        if (_live.Count > 0 || _services.Options.HistoryRetention <= TimeSpan.Zero)
        {
            // The state without the row is stored before the row goes: a stored state never counts on a row that is gone.
            state.RetentionDue = null;
            await PersistAsync();
            return await TryRemoveRetentionRowAsync();
        }

        DropExpiredHistory();
        if (RetentionDeadline() is { } due)
        {
            // Stored before the row moves later: cut off between the two, the row is earlier than the state says, which
            // costs one early call; a row later than the stored state's would delay the retention.
            state.RetentionDue = due;
            await PersistAsync();
            // What was stored (a merge with another activation's write may have moved it earlier).
            due = state.RetentionDue ?? due;
            try
            {
                await _services.DeadlineIndex.UpsertAsync(RetentionKey, UserId, due, RetentionPartition);
            }
            catch (Exception exception)
            {
                SessionLog.RetentionRowMoveFailed(_services.UserLogger, exception, UserId, due);
            }
            return false;
        }

        state.CurrentSessionId = string.Empty;
        // The row goes below: should this activation live on (a call before it deactivates), its next idle state writes
        // a new one. (Storage providers need not reset the state they clear.)
        state.RetentionDue = null;
        // Pages first: a header that is gone must leave no page behind. Listed pages are empty by now (nothing is live);
        // the next number may hold a seal whose header write never happened.
        var pages = new List<int>(state.Pages) { state.NextPage };
        foreach (var page in pages)
        {
            await ClearPageRecordAsync(page);
        }
        state.Pages.Clear();
        _pages.Clear();
        try
        {
            await _state.ClearStateAsync();
        }
        catch (InconsistentStateException)
        {
            // Written meanwhile by another activation: read it. The row stays due: the janitor's next sweep decides again.
            await _state.ReadStateAsync();
            await LoadLiveAsync();
            return false;
        }
        await ForgetTrimmedAsync();
        SessionLog.UserRecordDeleted(_services.UserLogger, UserId);
        // After the record: a row without a record costs the janitor one call; a record without its row would stay.
        var removed = await TryRemoveRetentionRowAsync();
        DeactivateOnIdle();
        return removed;
    }

    /// <summary>
    /// The tick of an earlier version's per-user reminder (<see cref="RetentionReminderName"/>): it is replaced by the
    /// user's row in the deadline index, and unregistered.
    /// </summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!_validKey || !string.Equals(reminderName, RetentionReminderName, StringComparison.Ordinal))
        {
            return;
        }
        // It ticked, so it is registered, whatever the stored state says.
        _state.State.RetentionReminder = true;
        await MigrateRetentionReminderAsync();
    }

    /// <summary>
    /// Replaces the reminder an earlier version registered for this user (<see cref="UserSessionsState.RetentionReminder"/>)
    /// by the row: the row is written first, then the reminder is unregistered, then the state that forgets it is
    /// stored, so retention never rests on neither. A failure is logged and leaves the flag set: the next activation, the
    /// reminder's next tick or the next write (which stores the flag) tries again.
    /// </summary>
    private async Task MigrateRetentionReminderAsync()
    {
        var state = _state.State;
        if (!state.RetentionReminder)
        {
            return;
        }
        try
        {
            await CoverByRetentionRowAsync();
            if (await this.GetReminder(RetentionReminderName) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }
            state.RetentionReminder = false;
            await PersistAsync();
            SessionLog.RetentionReminderMigrated(_services.UserLogger, UserId);
        }
        catch (Exception exception)
        {
            SessionLog.RetentionReminderMigrationFailed(_services.UserLogger, exception, UserId);
        }
    }

    /// <summary>
    /// Writes the user's row (or moves it earlier) when the state about to be stored needs one that its row does not
    /// cover. Runs before every write of the state, so a stored state that needs retention has its row, due no later than
    /// the state's <see cref="UserSessionsState.RetentionDue"/>. A failure is logged, not thrown: recording an end matters
    /// more than its retention, and the next write of this user tries again.
    /// </summary>
    private async Task WriteRetentionRowAsync()
    {
        try
        {
            await CoverByRetentionRowAsync();
        }
        catch (Exception exception)
        {
            SessionLog.RetentionRowWriteFailed(_services.UserLogger, exception, UserId);
        }
    }

    /// <summary>Upserts the row at <see cref="RetentionDeadline"/> unless the row already written is due no later.</summary>
    private async Task CoverByRetentionRowAsync()
    {
        var state = _state.State;
        if (RetentionDeadline() is not { } due || state.RetentionDue <= due)
        {
            return;
        }
        await _services.DeadlineIndex.UpsertAsync(RetentionKey, UserId, due, RetentionPartition);
        state.RetentionDue = due;
    }

    /// <summary>
    /// When the oldest history entry leaves by Sessions:HistoryRetention, if the state needs a retention row (retention
    /// on, no live session, some history); otherwise null.
    /// </summary>
    private DateTimeOffset? RetentionDeadline()
    {
        var retention = _services.Options.HistoryRetention;
        var history = _state.State.History;
        if (retention <= TimeSpan.Zero || _live.Count > 0 || history.Count == 0)
        {
            return null;
        }
        return (history[^1].EndedAt ?? _time.GetUtcNow()) + retention;
    }

    /// <summary>Removes the user's row; true when it is gone. A failure is logged: the janitor finds the row again.</summary>
    private async Task<bool> TryRemoveRetentionRowAsync()
    {
        try
        {
            await _services.DeadlineIndex.RemoveAsync(RetentionKey, RetentionPartition);
            return true;
        }
        catch (Exception exception)
        {
            SessionLog.RetentionRowRemoveFailed(_services.UserLogger, exception, UserId);
            return false;
        }
    }

    /// <summary>Drops history entries older than Sessions:HistoryRetention. Returns true when the state changed.</summary>
    private bool DropExpiredHistory()
    {
        var retention = _services.Options.HistoryRetention;
        return retention > TimeSpan.Zero && _state.State.DropEndedBefore(_time.GetUtcNow() - retention, _toForget);
    }
}
