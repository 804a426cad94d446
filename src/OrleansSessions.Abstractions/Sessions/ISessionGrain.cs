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

    /// <summary>The session's attributes. Not activity. Readable after the end while Sessions:DataRetention keeps them.</summary>
    /// <exception cref="SessionNotFoundException">No such session.</exception>
    /// <exception cref="SessionDataDeletedException">The session ended and its data was deleted.</exception>
    [Alias("GetAttributes")]
    Task<SessionAttributes> GetAttributesAsync();

    /// <summary>
    /// Sets and removes attributes in one write (a null value removes its key), which is activity (slides the idle
    /// deadline, in the same stored write). With <paramref name="ifVersion"/>, applies only if the session's data version
    /// is that one. A refused write changes nothing.
    /// </summary>
    /// <param name="changes">Key to JSON text, or null to remove the key.</param>
    /// <param name="ifVersion">The data version the caller read, or null.</param>
    /// <exception cref="InvalidSessionDataException">A key breaks <see cref="SessionKeys.DataKeyRule"/> or a value is not JSON (invalid_attribute_key).</exception>
    /// <exception cref="SessionDataTooLargeException">The attributes would exceed Sessions:MaxAttributesBytes.</exception>
    /// <exception cref="SessionVersionConflictException">The data version is not <paramref name="ifVersion"/>.</exception>
    /// <exception cref="SessionExpiredException">The session has expired.</exception>
    /// <exception cref="SessionClosedException">The session was closed.</exception>
    /// <exception cref="SessionNotFoundException">No such session.</exception>
    [Alias("UpdateAttributes")]
    Task<SessionAttributes> UpdateAttributesAsync(IReadOnlyDictionary<string, string?> changes, long? ifVersion = null);

    /// <summary>
    /// Messages of the conversation, oldest first: the last <paramref name="limit"/> (all held when null), or with
    /// <paramref name="after"/> the first <paramref name="limit"/> with a larger id. Not activity.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="limit"/> is not from 1 to 1,000 (parameter "limit") or <paramref name="after"/> is negative (parameter "after").</exception>
    /// <exception cref="SessionNotFoundException">No such session.</exception>
    /// <exception cref="SessionDataDeletedException">The session ended and its data was deleted.</exception>
    [Alias("GetMessages")]
    Task<SessionConversation> GetMessagesAsync(int? limit = null, long? after = null);

    /// <summary>
    /// Appends messages to the conversation in one write, which is activity (slides the idle deadline, in the same
    /// stored write). Past Sessions:ConversationLimit or Sessions:MaxConversationBytes the oldest messages are dropped.
    /// </summary>
    /// <exception cref="InvalidSessionDataException">No message, a role that is not user/assistant/system/tool, null content, or metadata that is not a JSON object (invalid_message).</exception>
    /// <exception cref="SessionDataTooLargeException">One message alone exceeds Sessions:MaxConversationBytes.</exception>
    /// <exception cref="SessionVersionConflictException">The data version is not <paramref name="ifVersion"/>.</exception>
    /// <exception cref="SessionExpiredException">The session has expired.</exception>
    /// <exception cref="SessionClosedException">The session was closed.</exception>
    /// <exception cref="SessionNotFoundException">No such session.</exception>
    [Alias("AppendMessages")]
    Task<SessionAppendResult> AppendMessagesAsync(IReadOnlyList<NewSessionMessage> messages, long? ifVersion = null);
}
