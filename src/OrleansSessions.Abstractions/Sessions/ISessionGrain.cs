namespace OrleansSessions.Sessions;

/// <summary>
/// One session (key: its session id), as its callers see it. Answers are computed from timestamps at call time and
/// never wait for a timer. Ended sessions stay readable while they are in their user's history. Sessions are created
/// through <see cref="IUserSessionsGrain.CreateSessionAsync()"/>.
/// </summary>
[Alias("OrleansSessions.ISessionGrain")]
public interface ISessionGrain : IGrainWithStringKey
{
    /// <summary>True while now &lt; expiresAt and the session has not ended. False for an unknown id.</summary>
    /// <exception cref="ArgumentException">The key is not a well-formed session id.</exception>
    [Alias("IsActive")]
    ValueTask<bool> IsActiveAsync();

    /// <summary>Records activity, sliding the idle deadline.</summary>
    /// <exception cref="SessionExpiredException">The session has expired.</exception>
    /// <exception cref="SessionClosedException">The session was closed.</exception>
    /// <exception cref="SessionNotFoundException">No such session.</exception>
    [Alias("Touch")]
    ValueTask<SessionInfo> TouchAsync();

    /// <summary>Returns the session's state.</summary>
    /// <exception cref="SessionNotFoundException">No such session.</exception>
    [Alias("Get")]
    ValueTask<SessionInfo> GetAsync();

    /// <summary>Logs the session out (end reason logout). Closing an ended session returns it unchanged.</summary>
    /// <exception cref="SessionNotFoundException">No such session.</exception>
    [Alias("Close")]
    Task<SessionInfo> CloseAsync();
}
