using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Logins;

/// <summary>
/// A cookie scheme's server-side session store (<see cref="CookieAuthenticationOptions.SessionStore"/>) on session
/// grains: each login is a session of its user, the cookie holds only the session id, and the ticket lives in one
/// attribute of the session, protected with the app's data protection keys so that whoever can write attributes (the
/// HTTP API) can neither read nor forge a login. A login lasts exactly as long as its session: once the session has
/// ended (timeout, logout, logout-all, eviction) the next request's <see cref="RetrieveAsync(string, HttpContext, CancellationToken)"/>
/// answers null, on every node, because each request asks the session grain.
/// </summary>
/// <remarks>
/// Only the answers that say the session is gone (not found, expired, closed, data deleted) mean "no login"; every
/// other failure (storage or silos unavailable, timeouts) is thrown, so an outage fails requests instead of logging
/// users out. Nothing of a ticket is ever logged.
/// </remarks>
internal sealed partial class OrleansSessionTicketStore : ITicketStore
{
    private const string ProtectorPurpose = "OrleansSessions.AspNetCore.Logins.OrleansSessionTicketStore";

    private readonly OrleansSessionTicketStoreOptions _options;
    private readonly IGrainFactory _grains;
    private readonly TicketDataFormat _format;
    private readonly IHttpContextAccessor? _httpContextAccessor;
    private readonly ILogger _logger;

    public OrleansSessionTicketStore(
        string scheme,
        OrleansSessionTicketStoreOptions options,
        IGrainFactory grains,
        IDataProtectionProvider dataProtection,
        ILogger<OrleansSessionTicketStore> logger,
        IHttpContextAccessor? httpContextAccessor = null)
    {
        ArgumentNullException.ThrowIfNull(dataProtection);
        _options = options;
        _grains = grains;
        _format = new TicketDataFormat(dataProtection.CreateProtector(ProtectorPurpose, scheme));
        _logger = logger;
        _httpContextAccessor = httpContextAccessor;
    }

    public Task<string> StoreAsync(AuthenticationTicket ticket) => StoreCoreAsync(ticket, _httpContextAccessor?.HttpContext);

    public Task<string> StoreAsync(AuthenticationTicket ticket, CancellationToken cancellationToken) => StoreCoreAsync(ticket, _httpContextAccessor?.HttpContext);

    /// <summary>Creates a session of the ticket's user, labelled from the request, holding the ticket; returns its id.</summary>
    /// <exception cref="ArgumentException">The ticket has no valid user id in <see cref="OrleansSessionTicketStoreOptions.UserIdClaimType"/>.</exception>
    /// <exception cref="SessionLimitExceededException">The user is at Sessions:MaxPerUser and Sessions:OverLimit is Reject.</exception>
    /// <exception cref="SessionDataTooLargeException">The protected ticket exceeds Sessions:MaxAttributesBytes.</exception>
    public Task<string> StoreAsync(AuthenticationTicket ticket, HttpContext httpContext, CancellationToken cancellationToken) => StoreCoreAsync(ticket, httpContext);

    public Task RenewAsync(string key, AuthenticationTicket ticket) => RenewCoreAsync(key, ticket);

    public Task RenewAsync(string key, AuthenticationTicket ticket, CancellationToken cancellationToken) => RenewCoreAsync(key, ticket);

    /// <summary>
    /// Records activity of the login's session, storing the ticket when it changed (a data write, which is activity
    /// too). Does nothing once the session has ended: the next retrieve answers null.
    /// </summary>
    /// <exception cref="InvalidOperationException">The ticket is another user's than the session's.</exception>
    public Task RenewAsync(string key, AuthenticationTicket ticket, HttpContext httpContext, CancellationToken cancellationToken) => RenewCoreAsync(key, ticket);

    public Task<AuthenticationTicket?> RetrieveAsync(string key) => RetrieveCoreAsync(key, _httpContextAccessor?.HttpContext);

    public Task<AuthenticationTicket?> RetrieveAsync(string key, CancellationToken cancellationToken) => RetrieveCoreAsync(key, _httpContextAccessor?.HttpContext);

    /// <summary>
    /// The login's ticket while its session is live (touching the session when
    /// <see cref="OrleansSessionTicketStoreOptions.RequestsAreActivity"/>), else null; sets <see cref="ILoginSessionFeature"/>.
    /// </summary>
    public Task<AuthenticationTicket?> RetrieveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken) => RetrieveCoreAsync(key, httpContext);

    public Task RemoveAsync(string key) => RemoveCoreAsync(key);

    public Task RemoveAsync(string key, CancellationToken cancellationToken) => RemoveCoreAsync(key);

    /// <summary>Closes the login's session (end reason logout); a session already ended or unknown is left as it is.</summary>
    public Task RemoveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken) => RemoveCoreAsync(key);

    private async Task<string> StoreCoreAsync(AuthenticationTicket ticket, HttpContext? httpContext)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        var userId = RequireUserId(ticket);
        var request = new SessionCreateRequest
        {
            Labels = Labels(httpContext),
            Attributes = new Dictionary<string, string>(1, StringComparer.Ordinal) { [_options.AttributeKey] = ToJson(ticket) },
            IdleTimeout = _options.IdleTimeout,
            AbsoluteTimeout = _options.AbsoluteTimeout,
        };
        var session = await _grains.GetGrain<IUserSessionsGrain>(userId).CreateSessionAsync(request).ConfigureAwait(false);
        httpContext?.Features.Set<ILoginSessionFeature>(new LoginSessionFeature(session));
        LogStored(_logger, session.SessionId, userId);
        return session.SessionId;
    }

    private async Task<AuthenticationTicket?> RetrieveCoreAsync(string key, HttpContext? httpContext)
    {
        if (!SessionKeys.IsValidSessionId(key))
        {
            LogMalformedKey(_logger);
            return null;
        }
        var grain = _grains.GetGrain<ISessionGrain>(key);
        AuthenticationTicket? ticket;
        SessionInfo session;
        try
        {
            ticket = FromJson((await grain.GetAttributesAsync().ConfigureAwait(false)).Attributes);
            if (ticket is null)
            {
                LogUnreadableTicket(_logger, key, _options.AttributeKey);
                return null;
            }
            // The liveness check comes last, so that the answer is as of the end of this call.
            session = _options.RequestsAreActivity ? await grain.TouchAsync().ConfigureAwait(false) : await grain.GetAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (HasEnded(exception))
        {
            LogEnded(_logger, key, SessionFailure.Classify(exception).Code);
            return null;
        }
        if (session.Status != SessionStatus.Active)
        {
            LogEnded(_logger, key, session.Status == SessionStatus.Expired ? "session_expired" : "session_closed");
            return null;
        }
        if (!string.Equals(UserIdOf(ticket), session.UserId, StringComparison.Ordinal))
        {
            // A ticket copied from another user's session by a writer of attributes: never a login of this session.
            LogAnotherUsersTicket(_logger, key, session.UserId);
            return null;
        }
        httpContext?.Features.Set<ILoginSessionFeature>(new LoginSessionFeature(session));
        return ticket;
    }

    private async Task RenewCoreAsync(string key, AuthenticationTicket ticket)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        if (!SessionKeys.IsValidSessionId(key))
        {
            LogMalformedKey(_logger);
            return;
        }
        var userId = RequireUserId(ticket);
        var grain = _grains.GetGrain<ISessionGrain>(key);
        try
        {
            var session = await grain.GetAsync().ConfigureAwait(false);
            if (session.Status != SessionStatus.Active)
            {
                LogNotRenewed(_logger, key);
                return;
            }
            if (!string.Equals(session.UserId, userId, StringComparison.Ordinal))
            {
                // ASP.NET Core's cookie handler renews the request's login when signing in over it.
                throw new InvalidOperationException(
                    $"Session {key} belongs to another user than the ticket's: a sign-in over a live login renews that login's session. Sign out first, in an earlier request.");
            }
            var stored = FromJson((await grain.GetAttributesAsync().ConfigureAwait(false)).Attributes);
            if (stored is not null && SameTicket(stored, ticket))
            {
                await grain.TouchAsync().ConfigureAwait(false);
            }
            else
            {
                await grain.UpdateAttributesAsync(new Dictionary<string, string?>(1, StringComparer.Ordinal) { [_options.AttributeKey] = ToJson(ticket) }).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (HasEnded(exception))
        {
            LogNotRenewed(_logger, key);
        }
    }

    private async Task RemoveCoreAsync(string key)
    {
        if (!SessionKeys.IsValidSessionId(key))
        {
            LogMalformedKey(_logger);
            return;
        }
        try
        {
            await _grains.GetGrain<ISessionGrain>(key).CloseAsync().ConfigureAwait(false);
        }
        catch (SessionNotFoundException)
        {
            // Forgotten: ended long ago.
        }
    }

    private static bool HasEnded(Exception exception)
        => exception is SessionNotFoundException or SessionExpiredException or SessionClosedException or SessionDataDeletedException;

    private string? UserIdOf(AuthenticationTicket ticket) => ticket.Principal.FindFirst(_options.UserIdClaimType)?.Value;

    private string RequireUserId(AuthenticationTicket ticket)
    {
        var userId = UserIdOf(ticket);
        if (userId is null)
        {
            throw new ArgumentException($"The ticket's principal has no '{_options.UserIdClaimType}' claim, the user id of its session (OrleansSessionTicketStoreOptions.UserIdClaimType).", nameof(ticket));
        }
        if (!SessionKeys.IsValidUserId(userId))
        {
            throw new ArgumentException($"The ticket's '{_options.UserIdClaimType}' claim is not a valid user id. {SessionKeys.UserIdRule}", nameof(ticket));
        }
        return userId;
    }

    private Dictionary<string, string>? Labels(HttpContext? httpContext)
    {
        if (httpContext is null)
        {
            return null;
        }
        var labels = new Dictionary<string, string>(2, StringComparer.Ordinal);
        if (_options.UserAgentLabel is { } userAgentLabel && httpContext.Request.Headers.UserAgent.ToString() is { Length: > 0 } userAgent)
        {
            labels[userAgentLabel] = Truncate(userAgent, SessionKeys.MaxLabelValueLength);
        }
        if (_options.RemoteAddressLabel is { } addressLabel && httpContext.Connection.RemoteIpAddress is { } address)
        {
            labels[addressLabel] = (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
        }
        return labels.Count == 0 ? null : labels;
    }

    private static string Truncate(string value, int length)
    {
        if (value.Length <= length)
        {
            return value;
        }
        // Never half of a surrogate pair.
        return value[..(char.IsHighSurrogate(value[length - 1]) ? length - 1 : length)];
    }

    // The protected form is base64url: nothing in it needs escaping in a JSON string.
    private string ToJson(AuthenticationTicket ticket) => "\"" + _format.Protect(ticket) + "\"";

    private AuthenticationTicket? FromJson(IReadOnlyDictionary<string, string> attributes)
    {
        if (!attributes.TryGetValue(_options.AttributeKey, out var json))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.String ? _format.Unprotect(document.RootElement.GetString()) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool SameTicket(AuthenticationTicket a, AuthenticationTicket b)
        => TicketSerializer.Default.Serialize(a).AsSpan().SequenceEqual(TicketSerializer.Default.Serialize(b));

    [LoggerMessage(EventId = 1600, Level = LogLevel.Debug, Message = "Stored a login of user {UserId} as session {SessionId}")]
    private static partial void LogStored(ILogger logger, string sessionId, string userId);

    [LoggerMessage(EventId = 1601, Level = LogLevel.Debug, Message = "Session {SessionId} has ended ({Reason}): its login is refused")]
    private static partial void LogEnded(ILogger logger, string sessionId, string reason);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Session {SessionId} holds no ticket this app can read in attribute {AttributeKey} (missing, protected with other data protection keys, or altered): its login is refused")]
    private static partial void LogUnreadableTicket(ILogger logger, string sessionId, string attributeKey);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Warning, Message = "Session {SessionId} of user {UserId} holds a ticket of another user: its login is refused")]
    private static partial void LogAnotherUsersTicket(ILogger logger, string sessionId, string userId);

    [LoggerMessage(EventId = 1604, Level = LogLevel.Debug, Message = "Session {SessionId} ended before its login was renewed")]
    private static partial void LogNotRenewed(ILogger logger, string sessionId);

    [LoggerMessage(EventId = 1605, Level = LogLevel.Debug, Message = "A login's key is not a session id: no login")]
    private static partial void LogMalformedKey(ILogger logger);
}
