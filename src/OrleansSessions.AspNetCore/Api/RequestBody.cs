using System.Globalization;
using System.Text.Json;
using System.Xml;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// Reads the JSON bodies of the API into what the grains take. Members are matched case-insensitively (the last of
/// duplicates wins), as the serializer does for the create body; a member set to null is absent. Every failure is an
/// <see cref="InvalidBodyException"/> whose text names the member and never repeats a value (attribute values, message
/// contents and metadata are users' words), or an <see cref="InvalidOperationException"/> for a string that is not
/// Unicode text (an unpaired surrogate escape), which <see cref="NotText"/> answers.
/// </summary>
internal static class RequestBody
{
    /// <summary>How deep a body may nest: room for attribute values and metadata that are objects of objects.</summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// The body as a JSON document, or null when it is empty or not JSON (Kestrel's 413/408 verdicts propagate). With
    /// <paramref name="bodySize"/>, a server limit below it is raised to it for this request (never lowered).
    /// </summary>
    public static async Task<JsonDocument?> ReadAsync(HttpRequest request, long? bodySize = null)
    {
        if (bodySize is { } size
            && request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false, MaxRequestBodySize: { } limit } feature
            && limit < size)
        {
            feature.MaxRequestBodySize = size;
        }
        try
        {
            return await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = MaxDepth }, request.HttpContext.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>True when the request declares an application/json body (any charset).</summary>
    public static bool IsJson(HttpRequest request)
        => MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed)
            && parsed.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);

    /// <summary>The member <paramref name="name"/> of <paramref name="body"/> (an object), or null when it is missing or null.</summary>
    public static JsonElement? Member(JsonElement body, string name)
    {
        JsonElement? found = null;
        foreach (var member in body.EnumerateObject())
        {
            if (member.NameEquals(name) || string.Equals(member.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                found = member.Value;
            }
        }
        return found is { ValueKind: JsonValueKind.Null } ? null : found;
    }

    /// <summary>A string member, or null; <paramref name="code"/> when it is another JSON type.</summary>
    public static string? String(JsonElement body, string name, string code = "invalid_json")
        => Member(body, name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } value => value.GetString(),
            _ => throw new InvalidBodyException(code, $"\"{name}\" must be a JSON string."),
        };

    /// <summary>A per-session timeout: an ISO-8601 duration ("PT5M", "P1DT2H") or "[d.]hh:mm:ss"; null when absent.</summary>
    public static TimeSpan? Timeout(JsonElement body, string name)
    {
        var text = String(body, name, InvalidSessionDataException.InvalidTimeout);
        if (text is null)
        {
            return null;
        }
        return TryParseTimeout(text, out var value)
            ? value
            : throw new InvalidBodyException(InvalidSessionDataException.InvalidTimeout,
                $"\"{name}\" must be an ISO-8601 duration such as \"PT5M\" (days at most: years and months have no fixed length) or \"hh:mm:ss\" such as \"00:05:00\".");
    }

    /// <summary>Parses an ISO-8601 duration without years, months or weeks, or the constant TimeSpan format with at least hours and minutes.</summary>
    public static bool TryParseTimeout(string text, out TimeSpan value)
    {
        value = default;
        if (text.Length is 0 or > 64)
        {
            return false;
        }
        var upper = text.ToUpperInvariant();
        if (upper.StartsWith('P') || upper.StartsWith("-P", StringComparison.Ordinal))
        {
            var time = upper.IndexOf('T', StringComparison.Ordinal);
            var date = time < 0 ? upper : upper[..time];
            if (date.Contains('Y', StringComparison.Ordinal) || date.Contains('M', StringComparison.Ordinal) || upper.Contains('W', StringComparison.Ordinal))
            {
                return false;
            }
            try
            {
                value = XmlConvert.ToTimeSpan(upper);
                return true;
            }
            catch (FormatException)
            {
                return false;
            }
            catch (OverflowException)
            {
                return false;
            }
        }
        // "c" alone would take "5" for five days.
        return text.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParseExact(text, "c", CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Labels: a JSON object of strings; null when absent. Their keys, count and lengths are the grain's to check.</summary>
    public static Dictionary<string, string>? Labels(JsonElement body)
    {
        if (Member(body, "labels") is not { } labels)
        {
            return null;
        }
        if (labels.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidBodyException(InvalidSessionDataException.InvalidLabels, "\"labels\" must be a JSON object of string values, such as {\"channel\": \"web\"}.");
        }
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var label in labels.EnumerateObject())
        {
            if (label.Value.ValueKind != JsonValueKind.String)
            {
                throw new InvalidBodyException(InvalidSessionDataException.InvalidLabels, $"{Name("Label", label.Name)} must have a JSON string value.");
            }
            if (!result.TryAdd(label.Name, label.Value.GetString()!))
            {
                throw new InvalidBodyException(InvalidSessionDataException.InvalidLabels, $"{Name("Label", label.Name)} appears twice.");
            }
        }
        return result;
    }

    /// <summary>
    /// The member "attributes": a JSON object of key to any JSON value, each value as its compact JSON text
    /// (<see cref="JsonText"/>); a null value is kept as null (a PATCH removes that key). <paramref name="required"/>: absent is an error, else null.
    /// </summary>
    public static Dictionary<string, string?>? Attributes(JsonElement body, bool required)
    {
        if (Member(body, "attributes") is not { } attributes)
        {
            return required
                ? throw new InvalidBodyException("invalid_json", "The body must have \"attributes\": a JSON object of key to value (null removes the key).")
                : null;
        }
        if (attributes.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidBodyException("invalid_json", "\"attributes\" must be a JSON object of key to value, such as {\"locale\": \"en\"}.");
        }
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var attribute in attributes.EnumerateObject())
        {
            var value = attribute.Value.ValueKind == JsonValueKind.Null ? null : JsonText.Compact(attribute.Value);
            if (!result.TryAdd(attribute.Name, value))
            {
                throw new InvalidBodyException(InvalidSessionDataException.InvalidAttributeKey, $"{Name("Attribute", attribute.Name)} appears twice.");
            }
        }
        return result;
    }

    /// <summary>The member "ifVersion": a whole number, or null when absent.</summary>
    public static long? IfVersion(JsonElement body)
        => Member(body, "ifVersion") switch
        {
            null => null,
            { ValueKind: JsonValueKind.Number } value when value.TryGetInt64(out var version) && version >= 0 => version,
            _ => throw new InvalidBodyException("invalid_json", "\"ifVersion\" must be a whole number >= 0: the dataVersion the write is based on."),
        };

    /// <summary>The member "messages": a JSON array of {"role", "content", "metadata"?}; roles and sizes are the grain's to check.</summary>
    public static List<NewSessionMessage> Messages(JsonElement body)
    {
        if (Member(body, "messages") is not { ValueKind: JsonValueKind.Array } messages)
        {
            throw new InvalidBodyException(InvalidSessionDataException.InvalidMessage,
                "The body must have \"messages\": a JSON array of {\"role\", \"content\", \"metadata\"?} objects.");
        }
        var result = new List<NewSessionMessage>(messages.GetArrayLength());
        foreach (var message in messages.EnumerateArray())
        {
            var index = result.Count;
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidBodyException(InvalidSessionDataException.InvalidMessage, $"Message {index} must be a JSON object with \"role\" and \"content\".");
            }
            if (Member(message, "role") is not { ValueKind: JsonValueKind.String } role)
            {
                throw new InvalidBodyException(InvalidSessionDataException.InvalidMessage, $"Message {index}: \"role\" must be \"user\", \"assistant\", \"system\" or \"tool\".");
            }
            if (Member(message, "content") is not { ValueKind: JsonValueKind.String } content)
            {
                throw new InvalidBodyException(InvalidSessionDataException.InvalidMessage, $"Message {index}: \"content\" must be a JSON string.");
            }
            var metadata = Member(message, "metadata");
            if (metadata is { ValueKind: not JsonValueKind.Object })
            {
                throw new InvalidBodyException(InvalidSessionDataException.InvalidMessage, $"Message {index}: \"metadata\" must be a JSON object.");
            }
            result.Add(new NewSessionMessage(role.GetString()!, content.GetString()!, metadata is { } value ? JsonText.Compact(value) : null));
        }
        return result;
    }

    /// <summary>The answer to a body whose strings are not all Unicode text (System.Text.Json's InvalidOperationException on reading them).</summary>
    public static IResult NotText()
        => ApiErrors.BadRequest("invalid_json", "A string in the body is not Unicode text: it has an unpaired surrogate escape such as \"\\ud800\".");

    /// <summary>"Label 'key'" for a key that is well-formed (so safe to quote), else just "A label".</summary>
    private static string Name(string kind, string key)
        => SessionKeys.IsValidDataKey(key) ? $"{kind} '{key}'" : $"A{(kind[0] is 'A' ? "n" : "")} {kind.ToLowerInvariant()}";
}

/// <summary>A request body that is not what its route takes: 400 with <see cref="Code"/> and the message as detail.</summary>
internal sealed class InvalidBodyException(string code, string detail) : Exception(detail)
{
    public string Code { get; } = code;
}
