using System.Text.Json;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>Writes results: JSON (one document per line) with --json, short human-readable lines otherwise.</summary>
internal sealed class Output(bool json, TextWriter stdout, TextWriter stderr)
{
    public bool Json => json;

    public TextWriter Out => stdout;

    public TextWriter Error => stderr;

    public void WriteJson<T>(T value) => stdout.WriteLine(JsonSerializer.Serialize(value, SessionJson.Options));

    public void Session(SessionInfo session)
    {
        if (json)
        {
            WriteJson(session);
        }
        else
        {
            stdout.WriteLine(Describe(session));
        }
    }

    public void Sessions(IReadOnlyList<SessionInfo> sessions, string emptyText)
    {
        if (json)
        {
            WriteJson(sessions);
            return;
        }
        if (sessions.Count == 0)
        {
            stdout.WriteLine(emptyText);
        }
        foreach (var session in sessions)
        {
            stdout.WriteLine(Describe(session));
        }
    }

    public void Line(string text)
    {
        if (!json)
        {
            stdout.WriteLine(text);
        }
    }

    public static string Describe(SessionInfo s)
    {
        var status = JsonNamingPolicy.SnakeCaseLower.ConvertName(s.Status.ToString());
        var text = $"{s.SessionId}  user={s.UserId}  status={status}  created={Time(s.CreatedAt)}  lastActivity={Time(s.LastActivity)}  expiresAt={Time(s.ExpiresAt)}";
        if (s.EndedAt is { } ended)
        {
            text += $"  endedAt={Time(ended)}  endReason={(s.EndReason is { } reason ? JsonNamingPolicy.SnakeCaseLower.ConvertName(reason.ToString()) : "-")}";
        }
        return text;
    }

    public static string Describe(SessionEvent e)
        => $"{Time(e.At)}  {JsonNamingPolicy.SnakeCaseLower.ConvertName(e.Type.ToString()),-8}  {Describe(e.Session)}";

    public static string Time(DateTimeOffset time) => SessionJson.FormatTime(time);
}
