using System.Text;
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

    /// <summary>attrs: the attributes as one JSON document, or a line per key (sorted) under a line with the version.</summary>
    public void Attributes(string sessionId, SessionAttributes attributes)
    {
        if (json)
        {
            WriteJson(attributes);
            return;
        }
        stdout.WriteLine($"{sessionId}  dataVersion={attributes.DataVersion}  attributes={attributes.Attributes.Count}");
        foreach (var key in attributes.Attributes.Keys.Order(StringComparer.Ordinal))
        {
            stdout.WriteLine($"  {key} = {attributes.Attributes[key]}");
        }
    }

    /// <summary>messages: the page as one JSON document, or a line per message under a line with the version and the trimmed count.</summary>
    public void Conversation(string sessionId, SessionConversation conversation)
    {
        if (json)
        {
            WriteJson(conversation);
            return;
        }
        stdout.WriteLine($"{sessionId}  dataVersion={conversation.DataVersion}  trimmed={conversation.Trimmed}  messages={conversation.Messages.Count}");
        foreach (var message in conversation.Messages)
        {
            stdout.WriteLine("  " + Describe(message));
        }
    }

    /// <summary>say: what was stored, as one JSON document, or the stored messages' lines and the session's.</summary>
    public void Appended(SessionAppendResult appended)
    {
        if (json)
        {
            WriteJson(appended);
            return;
        }
        stdout.WriteLine($"{appended.Session.SessionId}  dataVersion={appended.DataVersion}  appended={appended.Messages.Count}");
        foreach (var message in appended.Messages)
        {
            stdout.WriteLine("  " + Describe(message));
        }
        stdout.WriteLine("  " + Describe(appended.Session));
    }

    public static string Describe(SessionInfo s)
    {
        var status = JsonNamingPolicy.SnakeCaseLower.ConvertName(s.Status.ToString());
        var text = new StringBuilder($"{s.SessionId}  user={s.UserId}  status={status}  created={Time(s.CreatedAt)}  lastActivity={Time(s.LastActivity)}  expiresAt={Time(s.ExpiresAt)}");
        if (s.EndedAt is { } ended)
        {
            text.Append($"  endedAt={Time(ended)}  endReason={(s.EndReason is { } reason ? JsonNamingPolicy.SnakeCaseLower.ConvertName(reason.ToString()) : "-")}");
        }
        text.Append($"  idle={SessionJson.FormatDuration(s.IdleTimeout)}  absolute={SessionJson.FormatDuration(s.AbsoluteTimeout)}");
        if (s.DataVersion > 0)
        {
            text.Append($"  dataVersion={s.DataVersion}  messages={s.MessageCount}");
        }
        if (s.Labels is { Count: > 0 } labels)
        {
            text.Append("  labels=").AppendJoin(',', labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
        }
        if (s.PreviousSessionId is { } previous)
        {
            text.Append($"  previous={previous}");
        }
        return text.ToString();
    }

    /// <summary>One line: "#id  at  role: content", line breaks in the content shown as \n.</summary>
    public static string Describe(SessionMessage m)
    {
        var text = $"#{m.Id}  {Time(m.At)}  {m.Role}: {m.Content.ReplaceLineEndings("\\n")}";
        return m.Metadata is null ? text : $"{text}  metadata={m.Metadata}";
    }

    public static string Describe(SessionEvent e)
        => $"{Time(e.At)}  {JsonNamingPolicy.SnakeCaseLower.ConvertName(e.Type.ToString()),-8}  {Describe(e.Session)}";

    public static string Time(DateTimeOffset time) => SessionJson.FormatTime(time);
}
