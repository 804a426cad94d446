namespace OrleansSessions.Sessions;

/// <summary>The lifecycle state of a session. It moves from Active to exactly one end state, once.</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionStatus")]
public enum SessionStatus
{
    /// <summary>Live: the deadline has not passed and it was not closed.</summary>
    Active = 0,
    /// <summary>Ended by the idle or absolute timeout.</summary>
    Expired = 1,
    /// <summary>Ended by logout, logout-all or eviction.</summary>
    Closed = 2,
}
