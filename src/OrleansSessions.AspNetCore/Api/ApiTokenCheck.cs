using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// Checks Security:ApiToken on /api calls: "Authorization: Bearer &lt;token&gt;", or ?access_token= on GET
/// /api/events only (the browser's EventSource cannot send headers; a token in any other URL is ignored). The comparison takes the same time whatever the token.
/// Registered by <c>AddOrleansSessionsApi</c> for the <see cref="ApiTokenAuthenticationDefaults.AuthenticationScheme"/>
/// scheme; an app puts its own endpoints behind the same token with <c>RequireAuthorization(ApiTokenAuthenticationDefaults.PolicyName)</c>.
/// </summary>
public sealed class ApiTokenCheck
{
    private readonly byte[]? _expectedHash;

    /// <summary>Reads Security:ApiToken; only its SHA-256 digest is kept.</summary>
    public ApiTokenCheck(IOptions<SecurityOptions> security)
    {
        var token = security.Value.ApiToken;
        _expectedHash = string.IsNullOrEmpty(token) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    /// <summary>Whether a token is set (requests must then present it).</summary>
    public bool Required => _expectedHash is not null;

    /// <summary>?access_token= only where a header cannot be sent: the browser's EventSource on GET /api/events.</summary>
    private static bool AcceptsQueryToken(HttpRequest request)
        => HttpMethods.IsGet(request.Method) && (request.Path.Value ?? "").EndsWith("/api/events", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="request"/> presents the token (true when none is set).</summary>
    public bool IsAuthorized(HttpRequest request)
    {
        if (_expectedHash is null)
        {
            return true;
        }
        string? presented = null;
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = header["Bearer ".Length..].Trim();
        }
        else if (AcceptsQueryToken(request) && request.Query.TryGetValue("access_token", out var query))
        {
            presented = query.ToString();
        }
        return Matches(presented);
    }

    /// <summary>Whether <paramref name="presented"/> is the token (true when none is required), in constant time.</summary>
    public bool Matches(string? presented)
    {
        if (_expectedHash is null)
        {
            return true;
        }
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }
        // Hashing first makes the comparison independent of the presented length too.
        var presentedHash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        return CryptographicOperations.FixedTimeEquals(presentedHash, _expectedHash);
    }
}
