using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using OrleansSessions.Sessions;

namespace AspNetCoreLogin;

/// <summary>The app's two pages, as plain HTML.</summary>
internal static class Pages
{
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Default;

    /// <summary>The page as the response, never cached: after a logout the back button must not show a signed-in page.</summary>
    public static IResult Html(HttpContext context, string body, int statusCode = StatusCodes.Status200OK)
    {
        context.Response.Headers.CacheControl = "no-store";
        return Results.Content(body, "text/html; charset=utf-8", Encoding.UTF8, statusCode);
    }

    public static string Login(AntiforgeryTokenSet tokens, string returnUrl, string? error) => Layout("Sign in", $"""
        <h1>Sign in</h1>
        <p class="note">A demo: there are no passwords, any user name signs in.</p>
        {(error is null ? "" : $"<p id=\"error\" class=\"error\">{E(error)}</p>")}
        <form id="login" method="post" action="/login">
          {Token(tokens)}
          <input type="hidden" name="returnUrl" value="{E(returnUrl)}">
          <label>User name <input name="userName" autocomplete="username" required autofocus></label>
          <button id="sign-in" type="submit">Sign in</button>
        </form>
        """);

    public static string Sessions(AntiforgeryTokenSet tokens, string userId, string? currentSessionId, IReadOnlyList<SessionInfo> sessions)
    {
        var rows = new StringBuilder();
        foreach (var session in sessions)
        {
            var current = session.SessionId == currentSessionId;
            rows.Append(CultureInfo.InvariantCulture, $"""
                <tr class="session" data-session-id="{E(session.SessionId)}" data-current="{(current ? "true" : "false")}" data-expires-at="{session.ExpiresAt.UtcDateTime:O}">
                  <td class="device">{E(Label(session, "userAgent") ?? "unknown")}{(current ? " <strong>(this browser)</strong>" : "")}</td>
                  <td class="address">{E(Label(session, "remoteAddress") ?? "")}</td>
                  <td class="since">{Time(session.CreatedAt)}</td>
                  <td class="last-activity">{Time(session.LastActivity)}</td>
                  <td><form method="post" action="/sessions/{E(session.SessionId)}/logout">{Token(tokens)}<button class="logout-one" type="submit">Log out this one</button></form></td>
                </tr>

                """);
        }
        return Layout("Your sessions", $"""
            <h1>Signed in as <span id="user">{E(userId)}</span></h1>
            <p>Your live sessions: each browser that signed in as you, until it logs out or stays idle too long.</p>
            <table id="sessions">
              <thead><tr><th>Device</th><th>Address</th><th>Since</th><th>Last activity</th><th></th></tr></thead>
              <tbody>
            {rows}  </tbody>
            </table>
            <form method="post" action="/logout-everywhere">{Token(tokens)}<button id="logout-everywhere" type="submit">Log out everywhere</button></form>
            """);
    }

    private static string Layout(string title, string body) => $$"""
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <title>{{E(title)}}</title>
          <style>
            body { font-family: system-ui, sans-serif; margin: 2rem; }
            table { border-collapse: collapse; margin: 1rem 0; }
            th, td { border-bottom: 1px solid #ddd; padding: .4rem .8rem; text-align: left; }
            .error { color: #b00020; }
            .note { color: #555; }
          </style>
        </head>
        <body>
        {{body}}
        </body>
        </html>
        """;

    private static string Token(AntiforgeryTokenSet tokens)
        => $"<input type=\"hidden\" name=\"{E(tokens.FormFieldName)}\" value=\"{E(tokens.RequestToken ?? "")}\">";

    private static string? Label(SessionInfo session, string key)
        => session.Labels is { } labels && labels.TryGetValue(key, out var value) ? value : null;

    private static string Time(DateTimeOffset at)
        => $"<time datetime=\"{at.UtcDateTime:O}\">{at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC</time>";

    private static string E(string value) => Encoder.Encode(value);
}
