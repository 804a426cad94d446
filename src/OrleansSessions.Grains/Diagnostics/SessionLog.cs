using Microsoft.Extensions.Logging;

namespace OrleansSessions.Grains.Diagnostics;

/// <summary>The session domain's log messages. Lifecycle at Information, per-call details at Debug.</summary>
internal static partial class SessionLog
{
    [LoggerMessage(EventId = 1001, EventName = "SessionCreated", Level = LogLevel.Information, Message = "Session {SessionId} created for user {UserId}, expires at {ExpiresAt:O}")]
    public static partial void SessionCreated(ILogger logger, string sessionId, string userId, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 1002, EventName = "SessionExpiring", Level = LogLevel.Information, Message = "Session {SessionId} of user {UserId} expires at {ExpiresAt:O} unless touched")]
    public static partial void SessionExpiring(ILogger logger, string sessionId, string userId, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 1003, EventName = "SessionExpired", Level = LogLevel.Information, Message = "Session {SessionId} of user {UserId} expired ({Reason}) at {Deadline:O}, processed {LagMilliseconds} ms later")]
    public static partial void SessionExpired(ILogger logger, string sessionId, string userId, string reason, DateTimeOffset deadline, double lagMilliseconds);

    [LoggerMessage(EventId = 1004, EventName = "SessionClosed", Level = LogLevel.Information, Message = "Session {SessionId} of user {UserId} closed ({Reason})")]
    public static partial void SessionClosed(ILogger logger, string sessionId, string userId, string reason);

    [LoggerMessage(EventId = 1005, EventName = "SessionEvicted", Level = LogLevel.Information, Message = "Session {SessionId} of user {UserId} evicted by the per-user session limit")]
    public static partial void SessionEvicted(ILogger logger, string sessionId, string userId);

    [LoggerMessage(EventId = 1006, EventName = "JanitorSwept", Level = LogLevel.Information, Message = "Janitor partition {Partition} expired {Count} sessions")]
    public static partial void JanitorSwept(ILogger logger, int partition, int count);

    [LoggerMessage(EventId = 1007, EventName = "JanitorSessionFailed", Level = LogLevel.Warning, Message = "Janitor partition {Partition} could not expire session {SessionId}")]
    public static partial void JanitorSessionFailed(ILogger logger, Exception exception, int partition, string sessionId);

    [LoggerMessage(EventId = 1008, EventName = "DeadlineIndexWriteFailed", Level = LogLevel.Warning, Message = "Deadline index write for session {SessionId} failed; the janitor will repair it")]
    public static partial void DeadlineIndexWriteFailed(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(EventId = 1009, EventName = "SessionTimerFailed", Level = LogLevel.Error, Message = "Timer of session {SessionId} failed")]
    public static partial void SessionTimerFailed(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(EventId = 1010, EventName = "SessionForgotten", Level = LogLevel.Debug, Message = "Session {SessionId} left its user's history and was forgotten")]
    public static partial void SessionForgotten(ILogger logger, string sessionId);

    [LoggerMessage(EventId = 1011, EventName = "JanitorStarted", Level = LogLevel.Information, Message = "Janitor partition {Partition} reminder registered every {Period}")]
    public static partial void JanitorStarted(ILogger logger, int partition, TimeSpan period);

    [LoggerMessage(EventId = 1012, EventName = "UserSessionReconciled", Level = LogLevel.Debug, Message = "User {UserId}: session {SessionId} had ended without notice; recorded in history")]
    public static partial void UserSessionReconciled(ILogger logger, string userId, string sessionId);

    [LoggerMessage(EventId = 1013, EventName = "UserStateMerged", Level = LogLevel.Debug, Message = "User {UserId}: the stored state had changed since it was read; merged and written again")]
    public static partial void UserStateMerged(ILogger logger, string userId);

    [LoggerMessage(EventId = 1014, EventName = "SessionEndAdopted", Level = LogLevel.Debug, Message = "Session {SessionId}: the stored state shows it ended ({Status}) without this activation; the activation adopts it")]
    public static partial void SessionEndAdopted(ILogger logger, string sessionId, string status);

    [LoggerMessage(EventId = 1018, EventName = "UserRecordDeleted", Level = LogLevel.Information, Message = "User {UserId}: no live session and no history left within Sessions:HistoryRetention; stored record deleted")]
    public static partial void UserRecordDeleted(ILogger logger, string userId);

    [LoggerMessage(EventId = 1019, EventName = "TouchesNotWritten", Level = LogLevel.Warning, Message = "Session {SessionId}: writing its touches at deactivation failed; the stored state keeps its last written activity")]
    public static partial void TouchesNotWritten(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(EventId = 1021, EventName = "TouchesNotWrittenAtShutdown", Level = LogLevel.Warning, Message = "Session {SessionId}: writing its touches failed while the silo shuts down (with Orleans' memory storage, its storage grains may already be gone); the stored state keeps its last written activity. Further such failures of this shutdown are logged at Debug")]
    public static partial void TouchesNotWrittenAtShutdown(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(EventId = 1022, EventName = "MoreTouchesNotWrittenAtShutdown", Level = LogLevel.Debug, Message = "Session {SessionId}: writing its touches failed while the silo shuts down")]
    public static partial void MoreTouchesNotWrittenAtShutdown(ILogger logger, string sessionId);

    [LoggerMessage(EventId = 1020, EventName = "RetentionReminderFailed", Level = LogLevel.Warning, Message = "User {UserId}: registering the history-retention reminder failed; retried at the user's next write")]
    public static partial void RetentionReminderFailed(ILogger logger, Exception exception, string userId);
}

internal static partial class SessionLog
{
    [LoggerMessage(EventId = 1016, EventName = "EventPublishFailed", Level = LogLevel.Warning, Message = "Session {SessionId}: publishing its {EventType} event failed; {NotLogged} failed publishes since the last one logged were counted (sessions.events_failed) but not logged")]
    public static partial void EventPublishFailed(ILogger logger, Exception exception, string sessionId, string eventType, long notLogged);

    [LoggerMessage(EventId = 1017, EventName = "JanitorStartFailed", Level = LogLevel.Warning, Message = "Starting the janitor reminders failed (attempt {Attempt}), retrying: {Reason}")]
    public static partial void JanitorStartFailed(ILogger logger, int attempt, string reason);

    [LoggerMessage(EventId = 1023, EventName = "DataRecordsNotCleared", Level = LogLevel.Warning, Message = "Session {SessionId}: clearing records of its data failed; retried by a later write, or by the janitor after its end")]
    public static partial void DataRecordsNotCleared(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(EventId = 1024, EventName = "EventLogAppendFailed", Level = LogLevel.Warning, Message = "Session {SessionId}: recording its event in the event log failed; the event stays in its outbox and is recorded by a later activation or the janitor; {NotLogged} failures since the last one logged were counted (sessions.events_failed) but not logged")]
    public static partial void EventLogAppendFailed(ILogger logger, Exception exception, string sessionId, long notLogged);

    [LoggerMessage(EventId = 1025, EventName = "EventLogTrimFailed", Level = LogLevel.Warning, Message = "Janitor partition {Partition}: trimming the event log failed; retried at the next sweep")]
    public static partial void EventLogTrimFailed(ILogger logger, Exception exception, int partition);
}
