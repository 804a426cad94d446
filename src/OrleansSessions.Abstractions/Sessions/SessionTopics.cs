namespace OrleansSessions.Sessions;

/// <summary>Event topics of the session domain.</summary>
public static class SessionTopics
{
    /// <summary>Every <see cref="SessionEvent"/> is published on this topic.</summary>
    public const string Events = "sessions";
}
