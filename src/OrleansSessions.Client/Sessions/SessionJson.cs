using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Xml;

namespace OrleansSessions.Sessions;

/// <summary>
/// The JSON form of the session contracts shared by the silo's HTTP API and the client app: camelCase names,
/// enums as snake_case strings (active, idle_timeout, logout_all, ...), times as ISO-8601 UTC ("2026-01-01T14:00:00Z")
/// and durations as <c>hh:mm:ss</c> (read also as ISO-8601 durations, "PT5M": <see cref="TryParseDuration"/>).
/// Attribute values and message metadata, which the grains carry as JSON texts, are written as the JSON values they
/// are; label and attribute keys are written as given.
/// </summary>
public static class SessionJson
{
    /// <summary>Read-only serializer options with the wire conventions.</summary>
    public static JsonSerializerOptions Options { get; } = Create(indented: false);

    /// <summary>The same conventions, indented for people.</summary>
    public static JsonSerializerOptions IndentedOptions { get; } = Create(indented: true);

    /// <summary>Applies the wire conventions to <paramref name="options"/> (for frameworks that own their options instance).</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        // Dictionary keys are data (label and attribute keys are case-sensitive): written as they are.
        options.DictionaryKeyPolicy = null;
        options.PropertyNameCaseInsensitive = true;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.Converters.Add(new UtcDateTimeOffsetConverter());
        options.Converters.Add(new DurationConverter());
        options.Converters.Add(new SessionAttributesConverter());
        options.Converters.Add(new SessionMessageConverter());
        options.Converters.Add(new NewSessionMessageConverter());
    }

    /// <summary>Formats a time as ISO-8601 UTC with a 'Z' and no trailing zero fractions.</summary>
    public static string FormatTime(DateTimeOffset value)
        => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    /// <summary>Formats a duration as the wire writes it: <c>[d.]hh:mm:ss[.fffffff]</c> ("00:30:00").</summary>
    public static string FormatDuration(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);

    /// <summary>
    /// Reads a duration written as <c>[d.]hh:mm[:ss[.fffffff]]</c> ("00:05:00", "1.00:00:00") or as an ISO-8601 duration
    /// without years, months or weeks ("PT5M", "P1DT2H"; any case). A bare number is refused: "5" would be read as five
    /// days. The rules of the HTTP API's idleTimeout and absoluteTimeout.
    /// </summary>
    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = default;
        if (text is null)
        {
            return false;
        }
        text = text.Trim();
        if (text.Length is 0 or > 64)
        {
            return false;
        }
        var upper = text.ToUpperInvariant();
        if (upper.StartsWith('P') || upper.StartsWith("-P", StringComparison.Ordinal))
        {
            // Years and months have no fixed length; XmlConvert would count them as 365 and 30 days.
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
            catch (Exception ex) when (ex is FormatException or OverflowException)
            {
                return false;
            }
        }
        return text.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParseExact(text, "c", CultureInfo.InvariantCulture, out value);
    }

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions { WriteIndented = indented, TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        Configure(options);
        options.MakeReadOnly();
        return options;
    }

    /// <summary>The raw JSON text of the value at the reader.</summary>
    private static string ReadRawValue(ref Utf8JsonReader reader)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return document.RootElement.GetRawText();
    }

    private static string? ReadOptionalRawValue(ref Utf8JsonReader reader)
        => reader.TokenType == JsonTokenType.Null ? null : ReadRawValue(ref reader);

    private static void ExpectStartObject(ref Utf8JsonReader reader, string what)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"{what} must be a JSON object.");
        }
    }

    /// <summary>Moves to the next property of an object: its name, with the reader on its value; null at the object's end.</summary>
    private static string? NextProperty(ref Utf8JsonReader reader)
    {
        if (!reader.Read() || reader.TokenType == JsonTokenType.EndObject)
        {
            return null;
        }
        var name = reader.GetString()!;
        reader.Read();
        return name;
    }

    private static bool Is(string name, string expected) => string.Equals(name, expected, StringComparison.OrdinalIgnoreCase);

    private static string RequireString(ref Utf8JsonReader reader, string name)
        => reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new JsonException($"{name} must be a string.");

    private sealed class UtcDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var text = reader.GetString();
            if (text is null || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
            {
                throw new JsonException($"'{text}' is not an ISO-8601 time.");
            }
            return value;
        }

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
            => writer.WriteStringValue(FormatTime(value));
    }

    private sealed class DurationConverter : JsonConverter<TimeSpan>
    {
        public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            return TryParseDuration(text, out var value)
                ? value
                : throw new JsonException("A duration is hh:mm:ss or an ISO-8601 duration (PT5M).");
        }

        public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options)
            => writer.WriteStringValue(FormatDuration(value));
    }

    /// <summary>{"dataVersion": n, "attributes": {key: any JSON value}}.</summary>
    private sealed class SessionAttributesConverter : JsonConverter<SessionAttributes>
    {
        public override SessionAttributes Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            ExpectStartObject(ref reader, "attributes");
            long version = 0;
            var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
            while (NextProperty(ref reader) is { } name)
            {
                if (Is(name, "dataVersion"))
                {
                    version = reader.GetInt64();
                }
                else if (Is(name, "attributes"))
                {
                    ExpectStartObject(ref reader, "attributes");
                    while (NextProperty(ref reader) is { } key)
                    {
                        attributes[key] = ReadRawValue(ref reader);
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
            return new SessionAttributes(version, attributes);
        }

        public override void Write(Utf8JsonWriter writer, SessionAttributes value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            writer.WriteNumber("dataVersion", value.DataVersion);
            writer.WriteStartObject("attributes");
            foreach (var (key, json) in value.Attributes)
            {
                writer.WritePropertyName(key);
                writer.WriteRawValue(json);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
    }

    /// <summary>{"id", "role", "content", "at", "metadata": JSON object or null}.</summary>
    private sealed class SessionMessageConverter : JsonConverter<SessionMessage>
    {
        public override SessionMessage Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            ExpectStartObject(ref reader, "a message");
            long id = 0;
            string? role = null, content = null, metadata = null;
            DateTimeOffset at = default;
            while (NextProperty(ref reader) is { } name)
            {
                if (Is(name, "id"))
                {
                    id = reader.GetInt64();
                }
                else if (Is(name, "role"))
                {
                    role = RequireString(ref reader, "role");
                }
                else if (Is(name, "content"))
                {
                    content = RequireString(ref reader, "content");
                }
                else if (Is(name, "at"))
                {
                    at = JsonSerializer.Deserialize<DateTimeOffset>(ref reader, options);
                }
                else if (Is(name, "metadata"))
                {
                    metadata = ReadOptionalRawValue(ref reader);
                }
                else
                {
                    reader.Skip();
                }
            }
            return new SessionMessage(id, role ?? throw new JsonException("A message has a role."), content ?? throw new JsonException("A message has a content."), at, metadata);
        }

        public override void Write(Utf8JsonWriter writer, SessionMessage value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            writer.WriteNumber("id", value.Id);
            writer.WriteString("role", value.Role);
            writer.WriteString("content", value.Content);
            writer.WriteString("at", FormatTime(value.At));
            WriteMetadata(writer, value.Metadata);
            writer.WriteEndObject();
        }
    }

    /// <summary>{"role", "content", "metadata"?: JSON object}; a metadata that is no object is passed on for the grain to refuse.</summary>
    private sealed class NewSessionMessageConverter : JsonConverter<NewSessionMessage>
    {
        public override NewSessionMessage Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            ExpectStartObject(ref reader, "a message");
            string? role = null, content = null, metadata = null;
            while (NextProperty(ref reader) is { } name)
            {
                if (Is(name, "role"))
                {
                    role = reader.TokenType == JsonTokenType.Null ? null : RequireString(ref reader, "role");
                }
                else if (Is(name, "content"))
                {
                    content = reader.TokenType == JsonTokenType.Null ? null : RequireString(ref reader, "content");
                }
                else if (Is(name, "metadata"))
                {
                    metadata = ReadOptionalRawValue(ref reader);
                }
                else
                {
                    reader.Skip();
                }
            }
            // Missing parts stay null: the grain refuses them with invalid_message.
            return new NewSessionMessage(role!, content!, metadata);
        }

        public override void Write(Utf8JsonWriter writer, NewSessionMessage value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            writer.WriteString("role", value.Role);
            writer.WriteString("content", value.Content);
            WriteMetadata(writer, value.Metadata);
            writer.WriteEndObject();
        }
    }

    private static void WriteMetadata(Utf8JsonWriter writer, string? metadata)
    {
        writer.WritePropertyName("metadata");
        if (metadata is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteRawValue(metadata);
        }
    }
}
