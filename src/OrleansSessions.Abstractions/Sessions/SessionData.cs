namespace OrleansSessions.Sessions;

/// <summary>The roles a conversation message may have.</summary>
public static class MessageRoles
{
    /// <summary>The chat user's words.</summary>
    public const string User = "user";

    /// <summary>The reply.</summary>
    public const string Assistant = "assistant";

    /// <summary>Instructions for the reply generator.</summary>
    public const string System = "system";

    /// <summary>A tool's output.</summary>
    public const string Tool = "tool";

    /// <summary>True for user, assistant, system and tool.</summary>
    public static bool IsValid(string? role) => role is User or Assistant or System or Tool;
}

/// <summary>
/// A session's attributes: a small key/value map whose values are JSON texts (any JSON value), and the session's data
/// version (every change to the attributes or the conversation increments it).
/// </summary>
/// <param name="DataVersion">The session's data version after the read or write.</param>
/// <param name="Attributes">Key to JSON text (e.g. <c>"\"en\""</c>, <c>"42"</c>, <c>"{\"a\":1}"</c>).</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionAttributes")]
public sealed record SessionAttributes(
    [property: Id(0)] long DataVersion,
    [property: Id(1)] IReadOnlyDictionary<string, string> Attributes);

/// <summary>One stored message of a session's conversation.</summary>
/// <param name="Id">1, 2, 3... per session, in the order appended.</param>
/// <param name="Role">One of <see cref="MessageRoles"/>.</param>
/// <param name="Content">The words.</param>
/// <param name="At">When it was appended (UTC).</param>
/// <param name="Metadata">A JSON object text, or null.</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionMessage")]
public sealed record SessionMessage(
    [property: Id(0)] long Id,
    [property: Id(1)] string Role,
    [property: Id(2)] string Content,
    [property: Id(3)] DateTimeOffset At,
    [property: Id(4)] string? Metadata = null);

/// <summary>A message to append to a session's conversation.</summary>
/// <param name="Role">One of <see cref="MessageRoles"/>.</param>
/// <param name="Content">The words.</param>
/// <param name="Metadata">A JSON object text, or null.</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.NewSessionMessage")]
public sealed record NewSessionMessage(
    [property: Id(0)] string Role,
    [property: Id(1)] string Content,
    [property: Id(2)] string? Metadata = null);

/// <summary>Messages of a session's conversation, oldest first.</summary>
/// <param name="DataVersion">The session's data version at the read.</param>
/// <param name="Trimmed">How many of the oldest messages were dropped in total to keep the conversation within its bounds.</param>
/// <param name="Messages">The messages read, oldest first.</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionConversation")]
public sealed record SessionConversation(
    [property: Id(0)] long DataVersion,
    [property: Id(1)] long Trimmed,
    [property: Id(2)] IReadOnlyList<SessionMessage> Messages);

/// <summary>What an append stored.</summary>
/// <param name="DataVersion">The session's data version after the append.</param>
/// <param name="Messages">The appended messages as stored, with their ids and time.</param>
/// <param name="Session">The session after the append (which is activity: its idle deadline slid).</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionAppendResult")]
public sealed record SessionAppendResult(
    [property: Id(0)] long DataVersion,
    [property: Id(1)] IReadOnlyList<SessionMessage> Messages,
    [property: Id(2)] SessionInfo Session);

/// <summary>
/// What a new session starts with (<see cref="IUserSessionsGrain.CreateSessionAsync(SessionCreateRequest, string?)"/>).
/// Every part is optional.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionCreateRequest")]
public sealed record SessionCreateRequest
{
    /// <summary>At most <see cref="SessionKeys.MaxLabels"/> pairs: keys as attribute keys, values up to <see cref="SessionKeys.MaxLabelValueLength"/> characters.</summary>
    [Id(0)]
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Initial attributes: key to JSON text.</summary>
    [Id(1)]
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }

    /// <summary>This session's idle timeout: at least 1 s and at most Sessions:MaxIdleTimeout; null for Sessions:IdleTimeout.</summary>
    [Id(2)]
    public TimeSpan? IdleTimeout { get; init; }

    /// <summary>This session's absolute timeout: at least 1 s and at most Sessions:MaxAbsoluteTimeout; null for Sessions:AbsoluteTimeout.</summary>
    [Id(3)]
    public TimeSpan? AbsoluteTimeout { get; init; }

    /// <summary>
    /// An ended session of the same user whose data is still retained: the new session starts with its attributes,
    /// labels and last Sessions:ContinueMessages messages.
    /// </summary>
    [Id(4)]
    public string? ContinueFrom { get; init; }

    /// <summary>A request with nothing in it: a plain create.</summary>
    public static SessionCreateRequest Empty { get; } = new();
}
