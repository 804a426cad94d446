using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>The body of PATCH /api/sessions/{id}/attributes.</summary>
public sealed class UpdateAttributesRequest
{
    /// <summary>Key to any JSON value to set, or null to remove the key.</summary>
    public IReadOnlyDictionary<string, JsonElement?>? Attributes { get; init; }

    /// <summary>The data version the change is based on; another one is 409 version_conflict and changes nothing.</summary>
    public long? IfVersion { get; init; }
}

/// <summary>The body of POST /api/sessions/{id}/messages.</summary>
public sealed class AppendMessagesRequest
{
    /// <summary>The messages to append, in order (a chat turn: the user's message and the reply).</summary>
    public IReadOnlyList<NewMessage>? Messages { get; init; }

    /// <summary>The data version the append is based on; another one is 409 version_conflict and changes nothing.</summary>
    public long? IfVersion { get; init; }
}

/// <summary>A message to append.</summary>
public sealed class NewMessage
{
    /// <summary>user, assistant, system or tool.</summary>
    public string? Role { get; init; }

    /// <summary>The words.</summary>
    public string? Content { get; init; }

    /// <summary>Any JSON object, stored with the message.</summary>
    public JsonElement? Metadata { get; init; }
}

/// <summary>The answer of GET and PATCH /api/sessions/{id}/attributes.</summary>
/// <param name="DataVersion">The session's data version after the read or write.</param>
/// <param name="Attributes">Key to JSON value.</param>
public sealed record AttributesResponse(long DataVersion, IReadOnlyDictionary<string, JsonElement> Attributes)
{
    internal static AttributesResponse From(SessionAttributes attributes)
    {
        var keys = attributes.Attributes.Keys.ToArray();
        Array.Sort(keys, StringComparer.Ordinal);
        var values = new Dictionary<string, JsonElement>(keys.Length, StringComparer.Ordinal);
        foreach (var key in keys)
        {
            values[key] = ConversationMessage.Parse(attributes.Attributes[key]);
        }
        return new AttributesResponse(attributes.DataVersion, values);
    }
}

/// <summary>The answer of GET /api/sessions/{id}/messages.</summary>
/// <param name="DataVersion">The session's data version at the read.</param>
/// <param name="Trimmed">How many of the oldest messages were dropped in total to keep the conversation within its bounds.</param>
/// <param name="Messages">The messages read, oldest first.</param>
public sealed record MessagesResponse(long DataVersion, long Trimmed, IReadOnlyList<ConversationMessage> Messages)
{
    internal static MessagesResponse From(SessionConversation conversation)
        => new(conversation.DataVersion, conversation.Trimmed, ConversationMessage.From(conversation.Messages));
}

/// <summary>The answer of POST /api/sessions/{id}/messages.</summary>
/// <param name="DataVersion">The session's data version after the append.</param>
/// <param name="Messages">The appended messages as stored, with their ids and time.</param>
/// <param name="Session">The session after the append, which is activity (its idle deadline slid).</param>
public sealed record AppendMessagesResponse(long DataVersion, IReadOnlyList<ConversationMessage> Messages, SessionInfo Session)
{
    internal static AppendMessagesResponse From(SessionAppendResult result)
        => new(result.DataVersion, ConversationMessage.From(result.Messages), result.Session);
}

/// <summary>One message of a session's conversation.</summary>
/// <param name="Id">1, 2, 3... per session, in the order appended.</param>
/// <param name="Role">user, assistant, system or tool.</param>
/// <param name="Content">The words.</param>
/// <param name="At">When it was appended.</param>
/// <param name="Metadata">The JSON object given with it; absent when none was.</param>
public sealed record ConversationMessage(
    long Id,
    string Role,
    string Content,
    DateTimeOffset At,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Metadata)
{
    internal static ConversationMessage[] From(IReadOnlyList<SessionMessage> messages)
    {
        var result = new ConversationMessage[messages.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var message = messages[i];
            result[i] = new ConversationMessage(message.Id, message.Role, message.Content, message.At, message.Metadata is { } metadata ? Parse(metadata) : null);
        }
        return result;
    }

    /// <summary>A stored JSON text as a value the serializer writes as itself (the grains store only what this parses: their check has the same default depth).</summary>
    internal static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
