namespace OrleansSessions.Sessions;

/// <summary>The kind of a session event (JSON: created, expiring, expired, closed, evicted).</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionEventType")]
public enum SessionEventType
{
    /// <summary>A session was created.</summary>
    Created = 1,
    /// <summary>A session will expire within WarningBefore unless touched.</summary>
    Expiring = 2,
    /// <summary>A session ended by timeout.</summary>
    Expired = 3,
    /// <summary>A session ended by logout or logout-all.</summary>
    Closed = 4,
    /// <summary>A session was evicted by the per-user limit.</summary>
    Evicted = 5,
}
