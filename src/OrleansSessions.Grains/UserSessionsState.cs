using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>The stored state of one user's sessions.</summary>
[GenerateSerializer]
internal sealed class UserSessionsState
{
    /// <summary>Ids of sessions believed live, oldest first.</summary>
    public List<string> ActiveSessionIds { get; set; } = [];

    /// <summary>The most recently created session; empty when none.</summary>
    public string CurrentSessionId { get; set; } = string.Empty;

    /// <summary>Ended sessions, newest first, at most Sessions:HistoryLimit.</summary>
    public List<SessionInfo> History { get; set; } = [];
}
