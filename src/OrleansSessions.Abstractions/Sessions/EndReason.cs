namespace OrleansSessions.Sessions;

/// <summary>Why a session ended (JSON: idle_timeout, absolute_timeout, logout, logout_all, evicted).</summary>
[GenerateSerializer, Alias("OrleansSessions.EndReason")]
public enum EndReason
{
    /// <summary>No activity for the idle timeout.</summary>
    IdleTimeout = 1,
    /// <summary>The absolute lifetime cap was reached.</summary>
    AbsoluteTimeout = 2,
    /// <summary>Explicit logout of this session.</summary>
    Logout = 3,
    /// <summary>Logout of all of the user's sessions.</summary>
    LogoutAll = 4,
    /// <summary>Ended to make room under the per-user session limit.</summary>
    Evicted = 5,
}
