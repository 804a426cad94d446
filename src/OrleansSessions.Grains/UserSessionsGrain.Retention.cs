using Orleans.Runtime;
using Orleans.Storage;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>The user grain's retention: Sessions:HistoryRetention applied by its reminder while the user has no live session.</summary>
internal sealed partial class UserSessionsGrain
{
    /// <summary>
    /// Applies Sessions:HistoryRetention: drops expired history entries; once the user has no live session and no
    /// history, deletes the stored record and the reminder, and deactivates.
    /// </summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!_validKey || !string.Equals(reminderName, RetentionReminderName, StringComparison.Ordinal))
        {
            return;
        }
        var state = _state.State;
        if (_live.Count > 0)
        {
            // Sessions that ended unheard move to history here; live ones stop the retention until they end.
            await RefreshAsync(_live.All());
        }
        var retention = _services.Options.HistoryRetention;
        if (_live.Count > 0 || retention <= TimeSpan.Zero)
        {
            await StopRetentionAsync();
            await PersistAsync();
            return;
        }

        DropExpiredHistory();
        if (state.History.Count > 0)
        {
            // Wake again when the oldest remaining entry expires.
            var oldestEnd = state.History[^1].EndedAt ?? _time.GetUtcNow();
            var due = oldestEnd + retention - _time.GetUtcNow();
            await this.RegisterOrUpdateReminder(RetentionReminderName, due > TimeSpan.Zero ? due : TimeSpan.Zero, retention);
            await PersistAsync();
            return;
        }

        await StopRetentionAsync();
        state.CurrentSessionId = string.Empty;
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
            // Written meanwhile by another activation: read it; the next tick (or the next end) decides again.
            await _state.ReadStateAsync();
            await LoadLiveAsync();
            return;
        }
        await ForgetTrimmedAsync();
        SessionLog.UserRecordDeleted(_services.UserLogger, UserId);
        DeactivateOnIdle();
    }

    /// <summary>
    /// Registers the retention reminder when the user is left with history and no live session (once: the state
    /// remembers it). Registered before the state that says so is written, so a stored flag always has its reminder.
    /// </summary>
    private async Task ArmRetentionAsync()
    {
        var state = _state.State;
        var retention = _services.Options.HistoryRetention;
        if (retention <= TimeSpan.Zero || state.RetentionReminder || _live.Count > 0 || state.History.Count == 0)
        {
            return;
        }
        var oldestEnd = state.History[^1].EndedAt ?? _time.GetUtcNow();
        var due = oldestEnd + retention - _time.GetUtcNow();
        try
        {
            await this.RegisterOrUpdateReminder(RetentionReminderName, due > TimeSpan.Zero ? due : TimeSpan.Zero, retention);
            state.RetentionReminder = true;
        }
        catch (Exception exception)
        {
            // Recording the end matters more than its retention: the next write of this user tries again.
            SessionLog.RetentionReminderFailed(_services.UserLogger, exception, UserId);
        }
    }

    private async Task StopRetentionAsync()
    {
        var reminder = await this.GetReminder(RetentionReminderName);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
        _state.State.RetentionReminder = false;
    }

    /// <summary>Drops history entries older than Sessions:HistoryRetention. Returns true when the state changed.</summary>
    private bool DropExpiredHistory()
    {
        var retention = _services.Options.HistoryRetention;
        return retention > TimeSpan.Zero && _state.State.DropEndedBefore(_time.GetUtcNow() - retention, _toForget);
    }
}
