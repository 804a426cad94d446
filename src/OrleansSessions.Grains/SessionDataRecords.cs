using System.Globalization;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>A stored record of a session's conversation: the messages one append (or a continuation) added.</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionMessageChunk")]
internal sealed class SessionMessageChunk
{
    /// <summary>The messages, oldest first, with consecutive ids.</summary>
    [Id(0)]
    public List<SessionMessage> Messages { get; set; } = [];
}

/// <summary>A stored record of a session's attributes (one of two slots).</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionAttributesRecord")]
internal sealed class SessionAttributesRecord
{
    /// <summary>Key to JSON text.</summary>
    [Id(0)]
    public Dictionary<string, string> Values { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>What a new session starts with, checked by its user grain (<see cref="SessionDataRules.CheckCreate"/>).</summary>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionSeed")]
internal sealed record SessionSeed
{
    [Id(0)]
    public Dictionary<string, string>? Labels { get; init; }

    [Id(1)]
    public Dictionary<string, string>? Attributes { get; init; }

    [Id(2)]
    public TimeSpan? IdleTimeout { get; init; }

    [Id(3)]
    public TimeSpan? AbsoluteTimeout { get; init; }

    [Id(4)]
    public string? PreviousSessionId { get; init; }

    /// <summary>The continued session's last messages, renumbered from 1 by the new session.</summary>
    [Id(5)]
    public List<SessionMessage>? Messages { get; init; }

    /// <summary>True when the seed carries attributes or messages.</summary>
    public bool HasData => Attributes is { Count: > 0 } || Messages is { Count: > 0 };
}

/// <summary>What an ended session hands to the session that continues it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionContinuation")]
internal sealed record SessionContinuation(
    [property: Id(0)] Dictionary<string, string>? Labels,
    [property: Id(1)] Dictionary<string, string> Attributes,
    [property: Id(2)] List<SessionMessage> Messages);

/// <summary>
/// The records of one session's data in the sessions' grain storage, and the ETags this activation knows of them.
/// Message records are keyed by the session id and their first message id, attributes records by the session id and
/// their slot (1 or 2), each under a state name of its own (<see cref="SessionStorage.MessagesStateName"/>,
/// <see cref="SessionStorage.AttributesStateName"/>).
/// </summary>
/// <remarks>
/// A write or clear whose ETag storage refuses (the record was written by an earlier activation, or by a write cut off
/// before its state) reads the record to learn its ETag and tries once more: the session grain is the only writer of
/// its records, so the second try holds. A write first asks its caller whether the record may be overwritten: during a
/// membership change two activations of one session may live at once for a moment, and the stale one must not
/// overwrite a record the stored state of the other already names.
/// </remarks>
internal sealed class SessionDataRecords(IGrainStorage storage, string sessionId)
{
    /// <summary>The grain type of message records' synthetic grain ids.</summary>
    public const string MessagesGrainType = "session-messages";

    /// <summary>The grain type of attributes records' synthetic grain ids.</summary>
    public const string AttributesGrainType = "session-attributes";

    private readonly Dictionary<GrainId, string?> _etags = [];

    /// <summary>The storage key of the message record starting at <paramref name="firstId"/>.</summary>
    public static GrainId MessagesId(string sessionId, long firstId)
        => GrainId.Create(MessagesGrainType, sessionId + "/" + firstId.ToString(CultureInfo.InvariantCulture));

    /// <summary>The storage key of attributes slot <paramref name="slot"/>.</summary>
    public static GrainId AttributesId(string sessionId, int slot)
        => GrainId.Create(AttributesGrainType, sessionId + "/" + slot.ToString(CultureInfo.InvariantCulture));

    public Task WriteMessagesAsync(long firstId, List<SessionMessage> messages, Func<Task<bool>>? mayOverwrite = null)
        => WriteAsync(SessionStorage.MessagesStateName, MessagesId(sessionId, firstId), new SessionMessageChunk { Messages = messages }, mayOverwrite);

    /// <summary>The messages of the record starting at <paramref name="firstId"/>; null when storage holds no such record.</summary>
    public async Task<List<SessionMessage>?> TryReadMessagesAsync(long firstId)
        => (await ReadAsync<SessionMessageChunk>(SessionStorage.MessagesStateName, MessagesId(sessionId, firstId)))?.Messages;

    public Task ClearMessagesAsync(long firstId) => ClearAsync<SessionMessageChunk>(SessionStorage.MessagesStateName, MessagesId(sessionId, firstId));

    public Task WriteAttributesAsync(int slot, Dictionary<string, string> values, Func<Task<bool>>? mayOverwrite = null)
        => WriteAsync(SessionStorage.AttributesStateName, AttributesId(sessionId, slot), new SessionAttributesRecord { Values = values }, mayOverwrite);

    public async Task<Dictionary<string, string>> ReadAttributesAsync(int slot)
        => (await ReadAsync<SessionAttributesRecord>(SessionStorage.AttributesStateName, AttributesId(sessionId, slot)))?.Values
            ?? new Dictionary<string, string>(StringComparer.Ordinal);

    public Task ClearAttributesAsync(int slot) => ClearAsync<SessionAttributesRecord>(SessionStorage.AttributesStateName, AttributesId(sessionId, slot));

    /// <summary>
    /// Clears the message records of <paramref name="chain"/> and <paramref name="orphan"/> (a record no state names),
    /// newest first, so that a clear cut off leaves of each run of records the oldest ones, which a walk from the run's
    /// start finds; then both attributes slots when <paramref name="attributes"/>.
    /// </summary>
    public async Task ClearAllAsync(SessionMessageChain chain, long? orphan, bool attributes)
    {
        if (orphan is { } unlisted)
        {
            await ClearMessagesAsync(unlisted);
        }
        for (var i = chain.Records.Count - 1; i >= 0; i--)
        {
            await ClearMessagesAsync(chain.Records[i]);
        }
        for (var i = chain.Dead.Count - 1; i >= 0; i--)
        {
            await ClearMessagesAsync(chain.Dead[i]);
        }
        if (attributes)
        {
            await ClearAttributesAsync(1);
            await ClearAttributesAsync(2);
        }
    }

    private async Task<T?> ReadAsync<T>(string stateName, GrainId id) where T : class, new()
    {
        var record = new GrainState<T>(new T());
        await storage.ReadStateAsync(stateName, id, record);
        _etags[id] = record.ETag;
        return record.RecordExists ? record.State : null;
    }

    private async Task WriteAsync<T>(string stateName, GrainId id, T value, Func<Task<bool>>? mayOverwrite) where T : class, new()
    {
        var record = new GrainState<T>(value) { ETag = _etags.GetValueOrDefault(id) };
        try
        {
            await storage.WriteStateAsync(stateName, id, record);
        }
        catch (InconsistentStateException)
        {
            if (mayOverwrite is not null && !await mayOverwrite())
            {
                throw;
            }
            var stored = new GrainState<T>(new T());
            await storage.ReadStateAsync(stateName, id, stored);
            record = new GrainState<T>(value) { ETag = stored.ETag };
            await storage.WriteStateAsync(stateName, id, record);
        }
        _etags[id] = record.ETag;
    }

    private async Task ClearAsync<T>(string stateName, GrainId id) where T : class, new()
    {
        var record = new GrainState<T>(new T()) { ETag = _etags.GetValueOrDefault(id) };
        try
        {
            await storage.ClearStateAsync(stateName, id, record);
        }
        catch (InconsistentStateException)
        {
            var stored = new GrainState<T>(new T());
            await storage.ReadStateAsync(stateName, id, stored);
            if (stored.RecordExists)
            {
                await storage.ClearStateAsync(stateName, id, stored);
            }
        }
        _etags.Remove(id);
    }
}
