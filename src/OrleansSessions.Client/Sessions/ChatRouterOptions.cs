namespace OrleansSessions.Sessions;

/// <summary>How a <see cref="ChatRouter"/> answers: its language, the context it hands the reply generator, and what it does when a session expired.</summary>
public sealed class ChatRouterOptions
{
    /// <summary>The default of <see cref="ContextMessages"/>.</summary>
    public const int DefaultContextMessages = 20;

    /// <summary>The reply language: "en" (the default) or "es".</summary>
    public string Language { get; set; } = "en";

    /// <summary>
    /// How many of the conversation's newest messages the reply generator gets as context (read before each reply);
    /// 0 reads none. From 0 to <see cref="SessionPage.MaxLimit"/>.
    /// </summary>
    /// <value>Default 20.</value>
    public int ContextMessages { get; set; } = DefaultContextMessages;

    /// <summary>
    /// When the user's session expired, create the new session as its continuation
    /// (<see cref="SessionCreateRequest.ContinueFrom"/>: its attributes, labels and newest messages, as the silo's
    /// Sessions:ContinueMessages says), answer the message in it and say so in the reply. A continuation the silo
    /// refuses (the expired session's data is gone: Sessions:DataRetention is 0, the default, or has passed) falls back
    /// to a plain new session and <see cref="ChatRouter.ExpiredMessage"/>. A closed or evicted session is never continued.
    /// </summary>
    /// <value>Default false: a new, empty session and <see cref="ChatRouter.ExpiredMessage"/>, as before.</value>
    public bool ContinueExpiredSessions { get; set; }

    /// <summary>Makes the reply to a message from its context; null: an echo ("You said: ...").</summary>
    public ChatReplyGenerator? ReplyGenerator { get; set; }
}
