namespace OrleansSessions.Grains.Options;

/// <summary>What creating a session does when the user already has Sessions:MaxPerUser live sessions.</summary>
public enum OverLimitPolicy
{
    /// <summary>End the user's oldest live session (reason evicted) to make room.</summary>
    EvictOldest = 0,

    /// <summary>Refuse with <see cref="OrleansSessions.Sessions.SessionLimitExceededException"/>.</summary>
    Reject = 1,
}
