using System.Text.Encodings.Web;
using System.Text.Json;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>
/// Reads the command line's session data: key=value pairs (labels, attribute changes) and durations. Malformed text is
/// an <see cref="ArgumentException"/> (bad input, exit 2) naming the option, never quoting a value (users' words).
/// Keys and values are judged by the silo, so that its rules are the only ones.
/// </summary>
internal static class DataArguments
{
    private static readonly JsonWriterOptions StringWriter = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Labels from "key=value" texts (the value a plain string); a repeated key keeps its last value.</summary>
    public static Dictionary<string, string> Labels(IEnumerable<string> pairs)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var (key, value) = Split(pair, "--label");
            labels[key] = value;
        }
        return labels;
    }

    /// <summary>
    /// Attribute changes from "key=value" texts: the value as JSON when it is one JSON value (42, true, {"a":1},
    /// "quoted"), else as a string; JSON null removes the key, as in the HTTP API. A repeated key keeps its last value.
    /// </summary>
    public static Dictionary<string, string?> AttributeChanges(IEnumerable<string> pairs)
    {
        var changes = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var (key, value) = Split(pair, "set");
            changes[key] = AttributeValue(value);
        }
        return changes;
    }

    /// <summary>The JSON text of an attribute value typed on the command line; null for JSON null.</summary>
    public static string? AttributeValue(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Null ? null : document.RootElement.GetRawText();
        }
        catch (JsonException)
        {
            return JsonString(text);
        }
    }

    /// <summary>Attribute removals: each key set to null.</summary>
    public static Dictionary<string, string?> Removals(IEnumerable<string> keys)
    {
        var changes = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            changes[key] = null;
        }
        return changes;
    }

    /// <summary>A duration given as hh:mm:ss or ISO-8601 (PT5M); null when not given.</summary>
    public static TimeSpan? Duration(string? text, string option)
    {
        if (text is null)
        {
            return null;
        }
        return SessionJson.TryParseDuration(text, out var value)
            ? value
            : throw new ArgumentException($"{option} must be a duration as hh:mm:ss (00:05:00) or ISO-8601 (PT5M), not '{text}'.");
    }

    private static (string Key, string Value) Split(string pair, string option)
    {
        var equals = pair.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            // Quoted only when it looks like a key: anything else may be users' words.
            throw new ArgumentException(equals == 0
                ? $"{option} takes key=value pairs; one has no key."
                : SessionKeys.IsValidDataKey(pair) ? $"{option} takes key=value pairs; '{pair}' has no '='." : $"{option} takes key=value pairs; one has no '='.");
        }
        return (pair[..equals], pair[(equals + 1)..]);
    }

    private static string JsonString(string text)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, StringWriter))
        {
            writer.WriteStringValue(text);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
