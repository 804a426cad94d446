using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>Names of the API token authentication scheme and of the policy that requires it.</summary>
public static class ApiTokenAuthenticationDefaults
{
    /// <summary>The authentication scheme: "ApiToken".</summary>
    public const string AuthenticationScheme = "ApiToken";

    /// <summary>The authorization policy that requires the scheme (<c>RequireAuthorization(PolicyName)</c>): "ApiToken".</summary>
    public const string PolicyName = "ApiToken";
}

/// <summary>Options of the <see cref="ApiTokenAuthenticationDefaults.AuthenticationScheme"/> scheme; the token is Security:ApiToken (<see cref="SecurityOptions"/>).</summary>
public sealed class ApiTokenAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>The "detail" of a 401 answer when no <see cref="IApiTokenCredential"/> gives one.</summary>
    public string ChallengeDetail { get; set; } = "This silo requires 'Authorization: Bearer <Security:ApiToken>'.";
}

/// <summary>
/// Security:ApiToken as an ASP.NET Core authentication scheme: "Authorization: Bearer &lt;token&gt;", ?access_token= on
/// GET /api/events only (<see cref="ApiTokenCheck"/>), or a registered <see cref="IApiTokenCredential"/>. With no token
/// set every request is authenticated (everything stays open). The challenge is a 401 with
/// "WWW-Authenticate: Bearer" and an {"error":"unauthorized","detail"} body.
/// </summary>
internal sealed class ApiTokenAuthenticationHandler(
    IOptionsMonitor<ApiTokenAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiTokenCheck check,
    IEnumerable<IApiTokenCredential> credentials)
    : AuthenticationHandler<ApiTokenAuthenticationOptions>(options, logger, encoder), IAuthenticationRequestHandler
{
    private readonly IApiTokenCredential[] _credentials = [.. credentials];

    public async Task<bool> HandleRequestAsync()
    {
        if (!check.Required)
        {
            return false;
        }
        foreach (var credential in _credentials)
        {
            if (await credential.HandleRequestAsync(Context).ConfigureAwait(false))
            {
                return true;
            }
        }
        return false;
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!check.Required)
        {
            return Task.FromResult(Success("anonymous"));
        }
        if (check.IsAuthorized(Request))
        {
            foreach (var credential in _credentials)
            {
                credential.OnTokenAccepted(Context);
            }
            return Task.FromResult(Success("api-token"));
        }
        foreach (var credential in _credentials)
        {
            if (credential.IsPresented(Context))
            {
                return Task.FromResult(Success(credential.GetType().Name));
            }
        }
        return Task.FromResult(AuthenticateResult.NoResult());
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var detail = Options.ChallengeDetail;
        foreach (var credential in _credentials)
        {
            if (credential.ChallengeDetail(Context) is { } own)
            {
                detail = own;
                break;
            }
        }
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        return Response.WriteAsJsonAsync(new ApiError("unauthorized", detail), Context.RequestAborted);
    }

    private AuthenticateResult Success(string name)
    {
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], Scheme.Name);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }
}
