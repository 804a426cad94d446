using Microsoft.Extensions.Logging;

namespace OrleansSessions.Grains.Diagnostics;

/// <summary>Log messages of dormant sessions and the janitor partitions' queues.</summary>
internal static partial class SessionLog
{
    [LoggerMessage(EventId = 1320, EventName = "SessionDormant", Level = LogLevel.Debug, Message = "Session {SessionId} went dormant; next point {NextPoint:O}")]
    public static partial void SessionDormant(ILogger logger, string sessionId, DateTimeOffset nextPoint);

    [LoggerMessage(EventId = 1321, EventName = "JanitorNotifyFailed", Level = LogLevel.Warning, Message = "Session {SessionId} could not tell its janitor partition its next point; the partition's window or sweep finds it")]
    public static partial void JanitorNotifyFailed(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(EventId = 1322, EventName = "JanitorWindowLoadFailed", Level = LogLevel.Warning, Message = "Janitor partition {Partition} could not load its window from the deadline index; retried")]
    public static partial void JanitorWindowLoadFailed(ILogger logger, Exception exception, int partition);

    [LoggerMessage(EventId = 1323, EventName = "JanitorWindowLoaded", Level = LogLevel.Debug, Message = "Janitor partition {Partition} loaded {Count} due points until {Until:O}")]
    public static partial void JanitorWindowLoaded(ILogger logger, int partition, int count, DateTimeOffset until);

    [LoggerMessage(EventId = 1324, EventName = "JanitorQueueFailed", Level = LogLevel.Warning, Message = "Janitor partition {Partition}: its queue's timer failed")]
    public static partial void JanitorQueueFailed(ILogger logger, Exception exception, int partition);
}
