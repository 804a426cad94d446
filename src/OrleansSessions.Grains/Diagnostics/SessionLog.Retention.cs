using Microsoft.Extensions.Logging;

namespace OrleansSessions.Grains.Diagnostics;

/// <summary>History retention: the user's row in the deadline index, and the move off the per-user reminders.</summary>
internal static partial class SessionLog
{
    [LoggerMessage(EventId = 1300, EventName = "RetentionRowWriteFailed", Level = LogLevel.Warning, Message = "User {UserId}: writing its history-retention row in the deadline index failed; retried at the user's next write")]
    public static partial void RetentionRowWriteFailed(ILogger logger, Exception exception, string userId);

    [LoggerMessage(EventId = 1301, EventName = "RetentionRowMoveFailed", Level = LogLevel.Warning, Message = "User {UserId}: moving its history-retention row to {Due:O} failed; the row stays due and the janitor's next sweep applies the retention again")]
    public static partial void RetentionRowMoveFailed(ILogger logger, Exception exception, string userId, DateTimeOffset due);

    [LoggerMessage(EventId = 1302, EventName = "RetentionRowRemoveFailed", Level = LogLevel.Warning, Message = "User {UserId}: removing its history-retention row failed; the janitor finds the row again and removes it")]
    public static partial void RetentionRowRemoveFailed(ILogger logger, Exception exception, string userId);

    [LoggerMessage(EventId = 1303, EventName = "RetentionReminderMigrated", Level = LogLevel.Information, Message = "User {UserId}: the history-retention reminder of an earlier version was unregistered; its row in the deadline index applies the retention")]
    public static partial void RetentionReminderMigrated(ILogger logger, string userId);

    [LoggerMessage(EventId = 1304, EventName = "RetentionReminderMigrationFailed", Level = LogLevel.Warning, Message = "User {UserId}: replacing the history-retention reminder of an earlier version failed; retried at the user's next activation or the reminder's next tick")]
    public static partial void RetentionReminderMigrationFailed(ILogger logger, Exception exception, string userId);
}
