using System.Security.Claims;
using AspNetCoreLogin;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Diagnostics;
using OrleansSessions.AspNetCore.Logins;
using OrleansSessions.Client;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

// Cookie logins kept in session grains. Run a silo first (dotnet run --project silo), then this app; see README.md.
// Its settings (appsettings.json) are read beside the program, wherever it is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// An Orleans client of the session silos: Cluster:Gateway is host:port[,host:port...], Cluster:ClusterId the silos' one.
builder.UseOrleansClient(client => client.UseOrleansSessions(o =>
{
    var gateways = builder.Configuration["Cluster:Gateway"] ?? SessionClientOptions.DefaultGateway;
    foreach (var gateway in gateways.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    {
        o.Gateways.Add(gateway);
    }
    o.ClusterId = builder.Configuration["Cluster:ClusterId"] ?? SessionClientOptions.DefaultClusterId;
}));

// Every node of the app reads every node's cookies: they must share data protection keys (here the user's key folder,
// which all instances on one machine share; in production PersistKeysTo... a shared store).
builder.Services.AddDataProtection().SetApplicationName("aspnetcore-login");
builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
    .AddCookie(o =>
    {
        o.LoginPath = "/login";
        o.Cookie.Name = "login";
    });
// The one line that keeps the logins in session grains; Login:IdleTimeout and Login:AbsoluteTimeout set each login's
// timeouts (default: the silos' Sessions:IdleTimeout and Sessions:AbsoluteTimeout).
builder.Services.AddOrleansSessionTicketStore(configure: o =>
{
    o.IdleTimeout = builder.Configuration.GetValue<TimeSpan?>("Login:IdleTimeout");
    o.AbsoluteTimeout = builder.Configuration.GetValue<TimeSpan?>("Login:AbsoluteTimeout");
});
builder.Services.AddAuthorization();
builder.Services.AddAntiforgery();

var app = builder.Build();
app.UseExceptionHandler(error => error.Run(async context =>
{
    // The silos or their storage not answering is an outage, not a logout: say so.
    var failure = context.Features.Get<IExceptionHandlerFeature>()?.Error is { } exception ? SessionFailure.Classify(exception) : default;
    var unavailable = failure.Kind == SessionFailureKind.Unavailable;
    context.Response.StatusCode = unavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status500InternalServerError;
    await context.Response.WriteAsync(unavailable ? "The session service is unavailable; try again shortly." : "Something went wrong; see the app's log.");
}));
app.UseAuthentication();
app.UseAuthorization();

// 200 once the app has started, which is after its Orleans client connected.
app.MapGet("/healthz", (IHostApplicationLifetime lifetime) => lifetime.ApplicationStarted.IsCancellationRequested
    ? Results.Json(new { status = "serving" })
    : Results.Json(new { status = "starting" }, statusCode: StatusCodes.Status503ServiceUnavailable));

app.MapGet("/login", (HttpContext context, IAntiforgery antiforgery, string? returnUrl) =>
    context.User.Identity?.IsAuthenticated == true
        ? Results.Redirect("/")
        : Pages.Html(context, Pages.Login(antiforgery.GetAndStoreTokens(context), LocalOrRoot(returnUrl), error: null)));

app.MapPost("/login", async (HttpContext context, IAntiforgery antiforgery) =>
{
    if (context.User.Identity?.IsAuthenticated == true)
    {
        // A sign-in over a live login would renew that login's session (ASP.NET Core's cookie handler): sign out first.
        return Results.Redirect("/");
    }
    if (!await antiforgery.IsRequestValidAsync(context))
    {
        return Results.BadRequest();
    }
    var form = await context.Request.ReadFormAsync();
    var userName = form["userName"].ToString().Trim();
    var returnUrl = LocalOrRoot(form["returnUrl"]);
    if (!SessionKeys.IsValidUserId(userName))
    {
        return Pages.Html(context, Pages.Login(antiforgery.GetAndStoreTokens(context), returnUrl, "Not a user name: " + SessionKeys.UserIdRule), StatusCodes.Status400BadRequest);
    }
    // No password: this demo signs in whoever types a name. A real app checks credentials here.
    var user = new ClaimsPrincipal(new ClaimsIdentity(
        [new Claim(ClaimTypes.NameIdentifier, userName), new Claim(ClaimTypes.Name, userName)],
        CookieAuthenticationDefaults.AuthenticationScheme));
    try
    {
        await context.SignInAsync(user);
    }
    catch (SessionLimitExceededException)
    {
        // Sessions:MaxPerUser with Sessions:OverLimit=Reject on the silos.
        return Pages.Html(context, Pages.Login(antiforgery.GetAndStoreTokens(context), returnUrl, "You have too many sessions: log out one of them first."), StatusCodes.Status409Conflict);
    }
    return Results.LocalRedirect(returnUrl);
});

var signedIn = app.MapGroup("").RequireAuthorization();

signedIn.MapGet("/", async (HttpContext context, IAntiforgery antiforgery, IGrainFactory grains) =>
{
    var userId = UserId(context);
    var sessions = await grains.GetGrain<IUserSessionsGrain>(userId).GetActiveSessionsAsync();
    var current = context.Features.Get<ILoginSessionFeature>()?.SessionId;
    return Pages.Html(context, Pages.Sessions(antiforgery.GetAndStoreTokens(context), userId, current, sessions));
});

signedIn.MapPost("/sessions/{sessionId}/logout", async (string sessionId, HttpContext context, IAntiforgery antiforgery, IGrainFactory grains) =>
{
    if (!await antiforgery.IsRequestValidAsync(context))
    {
        return Results.BadRequest();
    }
    if (sessionId == context.Features.Get<ILoginSessionFeature>()?.SessionId)
    {
        await context.SignOutAsync();
        return Results.Redirect("/login");
    }
    if (!SessionKeys.IsValidSessionId(sessionId))
    {
        return Results.NotFound();
    }
    var session = grains.GetGrain<ISessionGrain>(sessionId);
    try
    {
        // Only a session of the signed-in user: ids of others' sessions close nothing.
        if ((await session.GetAsync()).UserId != UserId(context))
        {
            return Results.NotFound();
        }
        await session.CloseAsync();
    }
    catch (SessionNotFoundException)
    {
        // Ended and forgotten meanwhile.
    }
    return Results.Redirect("/");
});

signedIn.MapPost("/logout-everywhere", async (HttpContext context, IAntiforgery antiforgery, IGrainFactory grains) =>
{
    if (!await antiforgery.IsRequestValidAsync(context))
    {
        return Results.BadRequest();
    }
    await grains.GetGrain<IUserSessionsGrain>(UserId(context)).CloseAllAsync();
    await context.SignOutAsync();
    return Results.Redirect("/login");
});

app.Run();

static string UserId(HttpContext context) => context.User.FindFirstValue(ClaimTypes.NameIdentifier)
    ?? throw new InvalidOperationException("A signed-in user without a name identifier claim.");

// Only a path of this app: never an open redirect.
static string LocalOrRoot(string? url)
    => url is { Length: > 0 } && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) ? url : "/";
