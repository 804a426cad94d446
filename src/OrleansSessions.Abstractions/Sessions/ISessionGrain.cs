namespace OrleansSessions.Sessions;

/// <summary>
/// One session (key: its session id). Answers are computed from timestamps at call time and never wait
/// for a timer. Ended sessions stay readable while they are in their user's history.
/// </summary>
public interface ISessionGrain : IGrainWithStringKey
{
    /// <summary>Creates the session for <paramref name="userId"/>. Called by <see cref="IUserSessionsGrain"/>; throws <see cref="SessionAlreadyExistsException"/> if the id is taken.</summary>
    Task<SessionInfo> CreateAsync(string userId);

    /// <summary>True while now &lt; expiresAt and the session has not ended. False for an unknown id.</summary>
    ValueTask<bool> IsActiveAsync();

    /// <summary>Records activity, sliding the idle deadline. Throws <see cref="SessionExpiredException"/>, <see cref="SessionClosedException"/> or <see cref="SessionNotFoundException"/>.</summary>
    ValueTask<SessionInfo> TouchAsync();

    /// <summary>Returns the session's state. Throws <see cref="SessionNotFoundException"/>.</summary>
    ValueTask<SessionInfo> GetAsync();

    /// <summary>Logs the session out (end reason logout). Closing an ended session returns it unchanged. Throws <see cref="SessionNotFoundException"/>.</summary>
    Task<SessionInfo> CloseAsync();

    /// <summary>Ends the session with <paramref name="reason"/> if it is still active; returns its final state, or null for an unknown id.</summary>
    Task<SessionInfo?> EndAsync(EndReason reason);

    /// <summary>
    /// Ends the session with its timeout reason (idle_timeout or absolute_timeout, from its own timestamps) if its
    /// deadline has passed; returns true only when this call ended it. Otherwise it stays as it is and refreshes its
    /// entry in the deadline index. Used by the janitor, so a session ends once whoever gets there first.
    /// False for an unknown id.
    /// </summary>
    Task<bool> ExpireIfDueAsync();

    /// <summary>Drops the stored record of an ended session (its user's history no longer holds it).</summary>
    [OneWay]
    Task ForgetAsync();

    /// <summary>
    /// Does what the session's timers would have done by now: publishes the expiring warning once its time has come,
    /// and ends the session once its deadline has passed. Does not count as activity. Used by the silo to wake a
    /// dormant session (see Sessions:DormantAfter).
    /// </summary>
    Task WakeAsync();
}
