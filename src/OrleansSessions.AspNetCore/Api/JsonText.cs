using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// A JSON value as the text the grains store (attribute values, message metadata): compact, with only the escapes JSON
/// requires, so that its size against Sessions:MaxAttributesBytes and Sessions:MaxConversationBytes does not depend on
/// how the caller's encoder wrote it ("\u00e9" and "é" are the same two bytes; an emoji is four).
/// </summary>
internal static class JsonText
{
    /// <summary>The value's compact text.</summary>
    /// <exception cref="InvalidOperationException">A string holds an unpaired surrogate escape (not Unicode text).</exception>
    public static string Compact(JsonElement value)
    {
        var text = new StringBuilder();
        Write(text, value);
        return text.ToString();
    }

    private static void Write(StringBuilder text, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                text.Append('{');
                var firstMember = true;
                foreach (var member in value.EnumerateObject())
                {
                    if (!firstMember)
                    {
                        text.Append(',');
                    }
                    firstMember = false;
                    WriteString(text, member.Name);
                    text.Append(':');
                    Write(text, member.Value);
                }
                text.Append('}');
                break;
            case JsonValueKind.Array:
                text.Append('[');
                var firstItem = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!firstItem)
                    {
                        text.Append(',');
                    }
                    firstItem = false;
                    Write(text, item);
                }
                text.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(text, value.GetString()!);
                break;
            default:
                // A number as written (its digits are the caller's), true, false or null.
                text.Append(value.GetRawText());
                break;
        }
    }

    private static void WriteString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    text.Append("\\\"");
                    break;
                case '\\':
                    text.Append("\\\\");
                    break;
                case '\n':
                    text.Append("\\n");
                    break;
                case '\r':
                    text.Append("\\r");
                    break;
                case '\t':
                    text.Append("\\t");
                    break;
                case < ' ':
                    text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default:
                    text.Append(c);
                    break;
            }
        }
        text.Append('"');
    }
}
