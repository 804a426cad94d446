namespace OrleansSessions.Sessions;

/// <summary>The sessions of one user (key: user id, 1..128 characters, no control characters).</summary>
public interface IUserSessionsGrain : IGrainWithStringKey
{
    /// <summary>Creates a session under the MaxPerUser policy. Throws <see cref="SessionLimitExceededException"/> under the Reject policy.</summary>
    Task<SessionInfo> CreateSessionAsync();

    /// <summary>The user's live sessions, oldest first.</summary>
    Task<IReadOnlyList<SessionInfo>> GetActiveSessionsAsync();

    /// <summary>The most recently created session, even if it has ended; null if the user never had one.</summary>
    Task<SessionInfo?> GetCurrentSessionAsync();

    /// <summary>Ended sessions, newest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<SessionInfo>> GetHistoryAsync(int limit);

    /// <summary>Ends every live session with reason logout_all; returns how many were ended.</summary>
    Task<int> CloseAllAsync();

    /// <summary>Records the end of one of the user's sessions; called once per end by the session grain. Idempotent.</summary>
    [OneWay]
    Task SessionEndedAsync(SessionInfo session);
}
