namespace OrleansSessions.Grains;

/// <summary>The Orleans grain storage the session grains keep their state in.</summary>
public static class SessionStorage
{
    /// <summary>
    /// The name of the grain storage provider (a keyed <c>IGrainStorage</c>) that holds session and user state.
    /// The host registers it: in memory, ADO.NET, or any other Orleans grain storage.
    /// </summary>
    public const string Name = "OrleansSessions";

    /// <summary>The state name of a session (row key part of ADO.NET storage; distinct per grain type).</summary>
    public const string SessionStateName = "session";

    /// <summary>The state name of a user's sessions.</summary>
    public const string UserStateName = "user-sessions";

    /// <summary>The state name of a sealed page of a user's live session ids (see docs/session-grains.md).</summary>
    public const string UserPageStateName = "user-sessions-page";

    /// <summary>The state name of a record of a session's conversation (see docs/architecture.md, "Session data").</summary>
    public const string MessagesStateName = "session-messages";

    /// <summary>The state name of a record of a session's attributes.</summary>
    public const string AttributesStateName = "session-attributes";
}
