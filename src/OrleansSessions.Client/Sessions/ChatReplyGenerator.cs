namespace OrleansSessions.Sessions;

/// <summary>
/// Makes the reply to one message of a live session. The router stores the message and the reply in the session's
/// conversation together, once this returns; if the session ended meanwhile, the reply is dropped.
/// </summary>
/// <param name="context">The message, its session and the recent conversation.</param>
/// <param name="cancellationToken">Cancelled with the router's call.</param>
/// <returns>The reply text (not null).</returns>
public delegate ValueTask<string> ChatReplyGenerator(ChatContext context, CancellationToken cancellationToken);

/// <summary>What a <see cref="ChatReplyGenerator"/> answers from.</summary>
/// <param name="Session">The live session the message is answered in.</param>
/// <param name="Message">The user's message.</param>
/// <param name="Conversation">
/// The newest messages of the session's conversation before this one, oldest first: at most
/// <see cref="ChatRouterOptions.ContextMessages"/> (in a continued session, those it carried over).
/// </param>
/// <param name="Language">The router's language: "en" or "es".</param>
public sealed record ChatContext(SessionInfo Session, string Message, IReadOnlyList<SessionMessage> Conversation, string Language);
