using System.Security.Claims;

namespace OrleansSessions.AspNetCore.Logins;

/// <summary>
/// How a cookie scheme's logins are kept in session grains (<c>AddOrleansSessionTicketStore(scheme, o => ...)</c>);
/// named options, one per cookie scheme, checked by <see cref="OrleansSessionTicketStoreOptionsValidator"/> when the
/// app starts.
/// </summary>
public sealed class OrleansSessionTicketStoreOptions
{
    /// <summary>The attribute that holds the ticket unless <see cref="AttributeKey"/> says otherwise.</summary>
    public const string DefaultAttributeKey = "aspnetcore.ticket";

    /// <summary>The claim whose value is the user id the login's session belongs to. Default <see cref="ClaimTypes.NameIdentifier"/>.</summary>
    /// <value>A claim type; its value must be a valid user id (<c>SessionKeys.IsValidUserId</c>).</value>
    public string UserIdClaimType { get; set; } = ClaimTypes.NameIdentifier;

    /// <summary>The session attribute that holds the login's ticket (protected, as a JSON string). Default <see cref="DefaultAttributeKey"/>.</summary>
    public string AttributeKey { get; set; } = DefaultAttributeKey;

    /// <summary>
    /// The idle timeout of each login's session: at least 1 s and at most the silos' Sessions:MaxIdleTimeout.
    /// Default null: the silos' Sessions:IdleTimeout.
    /// </summary>
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>
    /// The absolute timeout of each login's session: at least 1 s and at most the silos' Sessions:MaxAbsoluteTimeout.
    /// Default null: the silos' Sessions:AbsoluteTimeout.
    /// </summary>
    public TimeSpan? AbsoluteTimeout { get; set; }

    /// <summary>
    /// Whether every authenticated request is activity of its login's session (the store touches it, sliding its idle
    /// deadline), so that a login ends after the idle timeout without requests. False: requests only check that the
    /// session is live, and only the cookie handler's renewals (its sliding expiration) and sign-ins are activity.
    /// Default true.
    /// </summary>
    public bool RequestsAreActivity { get; set; } = true;

    /// <summary>The session label that records the request's User-Agent (up to 256 characters), or null for none. Default "userAgent".</summary>
    public string? UserAgentLabel { get; set; } = "userAgent";

    /// <summary>The session label that records the request's remote address, or null for none. Default "remoteAddress".</summary>
    public string? RemoteAddressLabel { get; set; } = "remoteAddress";
}
