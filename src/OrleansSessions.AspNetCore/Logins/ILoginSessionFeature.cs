using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Logins;

/// <summary>
/// The session behind the current request's login, set on <c>HttpContext.Features</c> by the ticket store of
/// <c>AddOrleansSessionTicketStore</c> when it reads a live login (authentication) or stores a new one (sign-in).
/// Absent when the request has no login of such a scheme.
/// </summary>
public interface ILoginSessionFeature
{
    /// <summary>The login's session id: the key the cookie holds.</summary>
    string SessionId { get; }

    /// <summary>The session as the store saw it in this request (after its touch when requests are activity).</summary>
    SessionInfo Session { get; }
}

internal sealed class LoginSessionFeature(SessionInfo session) : ILoginSessionFeature
{
    public string SessionId => Session.SessionId;

    public SessionInfo Session { get; } = session;
}
