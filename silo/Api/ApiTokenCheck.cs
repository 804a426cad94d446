using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OrleansSessions.SiloHost.Hosting;

namespace OrleansSessions.SiloHost.Api;

/// <summary>
/// Checks Security:ApiToken on /api calls: "Authorization: Bearer &lt;token&gt;", or ?access_token= on GET
/// /api/events only (the browser's EventSource cannot send headers; a token in any other URL is ignored). The comparison takes the same time whatever the token.
/// </summary>
internal sealed class ApiTokenCheck
{
    private readonly byte[]? _expectedHash;

    public ApiTokenCheck(IOptions<SecurityOptions> security)
    {
        var token = security.Value.ApiToken;
        _expectedHash = string.IsNullOrEmpty(token) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    public bool Required => _expectedHash is not null;

    /// <summary>?access_token= only where a header cannot be sent: the browser's EventSource on GET /api/events.</summary>
    private static bool AcceptsQueryToken(HttpRequest request)
        => HttpMethods.IsGet(request.Method) && request.Path.Equals("/api/events", StringComparison.OrdinalIgnoreCase);

    /// <summary>The token the peers of this silo must present, or null.</summary>
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
