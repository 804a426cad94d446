namespace OrleansSessions.Sessions;

/// <summary>The answer of <see cref="ChatRouter"/> to one message: the reply text and the user's session after it.</summary>
/// <param name="Reply">The text to show the user.</param>
/// <param name="Session">The session the message was handled in (a new one when the previous had ended).</param>
public sealed record ChatReply(string Reply, SessionInfo Session);
