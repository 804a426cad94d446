using System.Globalization;
using System.Text;
using System.Text.Json;
using OrleansSessions.Grains.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The checks of session data and details, pure functions of the input and the options. Every failure names what is
/// wrong and never repeats a value (attribute values and message contents are users' words).
/// </summary>
internal static class SessionDataRules
{
    /// <summary>The shortest per-session timeout.</summary>
    public static readonly TimeSpan MinTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Checks a create request: labels, timeouts, attributes and the continued session's id.</summary>
    public static void CheckCreate(SessionCreateRequest request, SessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(request);
        CheckLabels(request.Labels);
        CheckTimeout("idleTimeout", request.IdleTimeout, options.IdleTimeoutCeiling, "Sessions:MaxIdleTimeout");
        CheckTimeout("absoluteTimeout", request.AbsoluteTimeout, options.AbsoluteTimeoutCeiling, "Sessions:MaxAbsoluteTimeout");
        if (request.Attributes is { } attributes)
        {
            var changes = new Dictionary<string, string?>(attributes.Count, StringComparer.Ordinal);
            foreach (var (key, value) in attributes)
            {
                changes[key] = value ?? throw Invalid(InvalidSessionDataException.InvalidAttributeKey, $"Attribute '{Safe(key)}' has no value.");
            }
            CheckAttributeChanges(changes);
            CheckAttributesSize(AttributesBytes(changes!), options);
        }
        if (request.ContinueFrom is { } continueFrom && !SessionKeys.IsValidSessionId(continueFrom))
        {
            throw new ArgumentException("continueFrom: " + SessionKeys.SessionIdRule, nameof(request));
        }
    }

    private static void CheckLabels(IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null)
        {
            return;
        }
        if (labels.Count > SessionKeys.MaxLabels)
        {
            throw Invalid(InvalidSessionDataException.InvalidLabels, $"A session has at most {SessionKeys.MaxLabels} labels (got {labels.Count}).");
        }
        foreach (var (key, value) in labels)
        {
            if (!SessionKeys.IsValidDataKey(key))
            {
                throw Invalid(InvalidSessionDataException.InvalidLabels, $"Label key '{Safe(key)}': {SessionKeys.DataKeyRule}");
            }
            if (value is null || value.Length > SessionKeys.MaxLabelValueLength)
            {
                throw Invalid(InvalidSessionDataException.InvalidLabels, $"Label '{key}' must have a string value of at most {SessionKeys.MaxLabelValueLength} characters.");
            }
        }
    }

    private static void CheckTimeout(string name, TimeSpan? value, TimeSpan max, string maxKey)
    {
        if (value is { } timeout && (timeout < MinTimeout || timeout > max))
        {
            throw Invalid(InvalidSessionDataException.InvalidTimeout,
                $"{name} must be from 00:00:01 to {max.ToString("c", CultureInfo.InvariantCulture)} ({maxKey}).");
        }
    }

    /// <summary>Checks attribute keys and that every value is one JSON value.</summary>
    public static void CheckAttributeChanges(IReadOnlyDictionary<string, string?> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var (key, value) in changes)
        {
            if (!SessionKeys.IsValidDataKey(key))
            {
                throw Invalid(InvalidSessionDataException.InvalidAttributeKey, $"Attribute key '{Safe(key)}': {SessionKeys.DataKeyRule}");
            }
            if (value is not null && !IsJson(value))
            {
                throw Invalid(InvalidSessionDataException.InvalidAttributeKey, $"The value of attribute '{key}' is not one JSON value.");
            }
        }
    }

    /// <summary>Throws <see cref="SessionDataTooLargeException"/> when <paramref name="bytes"/> exceeds Sessions:MaxAttributesBytes.</summary>
    public static void CheckAttributesSize(int bytes, SessionOptions options)
    {
        if (bytes > options.MaxAttributesBytes)
        {
            throw new SessionDataTooLargeException(
                $"The attributes would take {bytes} bytes; Sessions:MaxAttributesBytes is {options.MaxAttributesBytes}.",
                "Sessions:MaxAttributesBytes", options.MaxAttributesBytes);
        }
    }

    /// <summary>The size of attributes as one JSON object: {"key":value,...} in UTF-8 (keys need no escaping).</summary>
    public static int AttributesBytes(IReadOnlyDictionary<string, string> attributes)
    {
        var bytes = 2 + Math.Max(0, attributes.Count - 1);
        foreach (var (key, value) in attributes)
        {
            bytes += key.Length + 3 + Encoding.UTF8.GetByteCount(value);
        }
        return bytes;
    }

    /// <summary>Checks messages to append and returns each one's size (UTF-8 bytes of role, content and metadata).</summary>
    public static int[] CheckMessages(IReadOnlyList<NewSessionMessage> messages, SessionOptions options)
    {
        if (messages is null || messages.Count == 0)
        {
            throw Invalid(InvalidSessionDataException.InvalidMessage, "An append carries at least one message.");
        }
        if (messages.Count > options.ConversationLimit)
        {
            throw Invalid(InvalidSessionDataException.InvalidMessage, $"An append carries at most {options.ConversationLimit} messages (Sessions:ConversationLimit).");
        }
        var sizes = new int[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i] ?? throw Invalid(InvalidSessionDataException.InvalidMessage, $"Message {i} is null.");
            if (!MessageRoles.IsValid(message.Role))
            {
                throw Invalid(InvalidSessionDataException.InvalidMessage, $"Message {i}: role must be user, assistant, system or tool.");
            }
            if (message.Content is null)
            {
                throw Invalid(InvalidSessionDataException.InvalidMessage, $"Message {i}: content must be a string.");
            }
            if (message.Metadata is not null && !IsJsonObject(message.Metadata))
            {
                throw Invalid(InvalidSessionDataException.InvalidMessage, $"Message {i}: metadata must be a JSON object.");
            }
            var size = Encoding.UTF8.GetByteCount(message.Role) + Encoding.UTF8.GetByteCount(message.Content)
                + (message.Metadata is null ? 0 : Encoding.UTF8.GetByteCount(message.Metadata));
            if (size > options.MaxConversationBytes)
            {
                throw new SessionDataTooLargeException(
                    $"Message {i} takes {size} bytes; Sessions:MaxConversationBytes is {options.MaxConversationBytes}.",
                    "Sessions:MaxConversationBytes", options.MaxConversationBytes);
            }
            sizes[i] = size;
        }
        return sizes;
    }

    /// <summary>The size of a stored message, as <see cref="CheckMessages"/> counts it.</summary>
    public static int SizeOf(SessionMessage message)
        => Encoding.UTF8.GetByteCount(message.Role) + Encoding.UTF8.GetByteCount(message.Content)
            + (message.Metadata is null ? 0 : Encoding.UTF8.GetByteCount(message.Metadata));

    /// <summary>Checks a read's limit (1 to 1,000) and cursor (&gt;= 0).</summary>
    public static void CheckRead(int? limit, long? after)
    {
        if (limit is < 1 or > SessionPage.MaxLimit)
        {
            throw new ArgumentException($"limit must be from 1 to {SessionPage.MaxLimit}.", nameof(limit));
        }
        if (after is < 0)
        {
            throw new ArgumentException("after must be a message id >= 0.", nameof(after));
        }
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>A key as an error message may quote it: printable ASCII, at most 64 characters.</summary>
    private static string Safe(string? key)
    {
        if (key is null)
        {
            return "(null)";
        }
        var builder = new StringBuilder(Math.Min(key.Length, 64));
        foreach (var c in key.AsSpan(0, Math.Min(key.Length, 64)))
        {
            builder.Append(c is >= ' ' and <= '~' ? c : '?');
        }
        return builder.ToString();
    }

    private static InvalidSessionDataException Invalid(string code, string message) => new(code, message);
}
