using Microsoft.AspNetCore.Http;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// A credential besides Security:ApiToken that the <see cref="ApiTokenAuthenticationDefaults.AuthenticationScheme"/>
/// scheme accepts on the paths it serves, such as a cookie set by a visit that presented the token (for pages whose
/// scripts cannot send the Authorization header). Register implementations as singletons; consulted only while a
/// token is set.
/// </summary>
public interface IApiTokenCredential
{
    /// <summary>Before routing: true when it answered the request itself (e.g. set a cookie and redirected a visit that presented the token).</summary>
    Task<bool> HandleRequestAsync(HttpContext context);

    /// <summary>The request presented the token in its Authorization header (e.g. to renew a cookie).</summary>
    void OnTokenAccepted(HttpContext context);

    /// <summary>Whether the request presents this credential instead of the token.</summary>
    bool IsPresented(HttpContext context);

    /// <summary>The "detail" of the 401 answer to this request, or null for the default one.</summary>
    string? ChallengeDetail(HttpContext context);
}
