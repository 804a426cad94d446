using Orleans.Runtime;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The session's data: attributes and the conversation, in records of their own (<see cref="SessionDataRecords"/>)
/// named by the header in the session's state (<see cref="SessionDataHeader"/>).
/// </summary>
/// <remarks>
/// A write stores its record first, then the session's state with the new header and the touch it counts as: the one
/// stored write that acknowledges it. An append stores only the appended messages and the header, whose size does not
/// depend on the conversation's; one that drops old messages needs their sizes, which the activation learns once by
/// walking the chain of message records and then keeps (<see cref="SessionMessageChain"/>). At the end the data is
/// deleted (or kept read-only for Sessions:DataRetention) as part of the end; the deadline index row of the session
/// stays until the records are cleared, so the janitor finishes a deletion a crash cut short.
/// </remarks>
internal sealed partial class SessionGrain
{
    private SessionDataRecords? _records;

    // True while storage may hold a data record the header does not list: a write stores its record before the state
    // that lists it, so a write cut off in between (a failed call here, or an earlier activation killed mid-write)
    // leaves one behind, under the only keys such a write uses: the message record after the last listed message, or
    // attributes slot 1 while the header has none. False for the activation that created the session, until a data
    // write of its own fails.
    private bool _unlistedRecords = true;

    // What this activation has read or written of the data; dropped at the end.
    private Dictionary<string, string>? _attributes;
    private List<SessionMessage>? _messages;

    // Where the message records start and the sizes of the messages held: learnt by walking the records from the
    // oldest (a read walks them all; an append that drops messages as far as it drops), then kept in step by every
    // append; dropped at the end.
    private SessionMessageChain? _chain;

    /// <summary>Drops what this activation holds of the data, after the state was read again.</summary>
    private void ForgetLoadedData()
    {
        _attributes = null;
        _messages = null;
        _chain = null;
    }

    private SessionDataRecords Records => _records ??= new(_services.GrainStorage, this.GetPrimaryKeyString());

    public async Task<SessionAttributes> GetAttributesAsync()
    {
        ThrowIfInvalidKey();
        var header = await ReadableDataAsync();
        return new SessionAttributes(header?.Version ?? 0, await LoadAttributesAsync(header));
    }

    public async Task<SessionAttributes> UpdateAttributesAsync(IReadOnlyDictionary<string, string?> changes, long? ifVersion = null)
    {
        ThrowIfInvalidKey();
        SessionDataRules.CheckAttributeChanges(changes);
        var now = await LiveForWriteAsync();
        var header = State.Data ??= new SessionDataHeader();
        CheckVersion(header, ifVersion);
        var unlisted = _unlistedRecords;
        var next = new Dictionary<string, string>(await LoadAttributesAsync(header), StringComparer.Ordinal);
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                next.Remove(key);
            }
            else
            {
                next[key] = value;
            }
        }
        var bytes = SessionDataRules.AttributesBytes(next);
        SessionDataRules.CheckAttributesSize(bytes, _services.Options);
        if (SameAttributes(next, _attributes))
        {
            // Nothing changes: no record and no new version, but the call is activity as a touch is.
            await WriteActivityAsync(now);
            return new SessionAttributes(header.Version, _attributes ?? next);
        }

        var slot = header.AttributesSlot == 1 ? 2 : 1;
        _unlistedRecords = true;
        await Records.WriteAttributesAsync(slot, next, StoredVersionIsOursAsync);
        header.AttributesSlot = slot;
        header.AttributesBytes = bytes;
        header.Version++;
        await WriteActivityAsync(now);
        _unlistedRecords = unlisted;
        _attributes = next;
        _services.Metrics.DataWritten();
        return new SessionAttributes(header.Version, next);
    }

    private static bool SameAttributes(Dictionary<string, string> next, Dictionary<string, string>? current)
    {
        current ??= [];
        if (next.Count != current.Count)
        {
            return false;
        }
        foreach (var (key, value) in next)
        {
            if (!current.TryGetValue(key, out var held) || !string.Equals(held, value, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    public async Task<SessionConversation> GetMessagesAsync(int? limit = null, long? after = null)
    {
        ThrowIfInvalidKey();
        SessionDataRules.CheckRead(limit, after);
        var header = await ReadableDataAsync();
        if (header is null)
        {
            return new SessionConversation(0, 0, []);
        }
        var held = await LoadMessagesAsync(header);
        List<SessionMessage> page;
        if (after is { } cursor)
        {
            var start = held.FindIndex(m => m.Id > cursor);
            page = start < 0 ? [] : held.GetRange(start, Math.Min(limit ?? held.Count, held.Count - start));
        }
        else
        {
            var count = Math.Min(limit ?? held.Count, held.Count);
            page = held.GetRange(held.Count - count, count);
        }
        return new SessionConversation(header.Version, header.Trimmed, page);
    }

    public async Task<SessionAppendResult> AppendMessagesAsync(IReadOnlyList<NewSessionMessage> messages, long? ifVersion = null)
    {
        ThrowIfInvalidKey();
        var sizes = SessionDataRules.CheckMessages(messages, _services.Options);
        var now = await LiveForWriteAsync();
        var header = State.Data ??= new SessionDataHeader();
        CheckVersion(header, ifVersion);

        if (header.TrimsOnAppend(sizes.Length, Sum(sizes), _services.Options))
        {
            // The sizes of the messages this append drops: read from the oldest records on, once per activation.
            var chain = _chain ??= await StartChainAsync(header);
            while (header.NeedsMoreOfChain(sizes, _services.Options, chain) && !chain.IsComplete(header))
            {
                await ReadRecordsAsync(header, chain, held: null, strict: true, all: false);
            }
        }
        if (_chain is { Dead.Count: > 0 })
        {
            // Records left by a clear that failed (or by an earlier activation): while they are stored, this append
            // could not move the reads' start past the records it empties.
            await ClearDeadRecordsAsync(header);
        }

        var first = header.LastMessageId + 1;
        var stored = new List<SessionMessage>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            stored.Add(new SessionMessage(first + i, message.Role, message.Content, now, message.Metadata));
        }
        var unlisted = _unlistedRecords;
        _unlistedRecords = true;
        await Records.WriteMessagesAsync(first, stored, StoredVersionIsOursAsync);
        header.Append(sizes, _services.Options, _chain);
        header.Version++;
        var info = await WriteActivityAsync(now);
        _unlistedRecords = unlisted;
        if (_messages is not null)
        {
            _messages.AddRange(stored);
            TrimHeld(_messages, header);
        }
        _services.Metrics.MessagesAppended(stored.Count);
        await ClearDeadRecordsAsync(header);
        return new SessionAppendResult(header.Version, stored, info);
    }

    private static long Sum(int[] sizes)
    {
        long sum = 0;
        foreach (var size in sizes)
        {
            sum += size;
        }
        return sum;
    }

    /// <summary>What an ended session gives the session that continues it (see <see cref="ISessionLifecycleGrain.GetContinuationAsync"/>).</summary>
    public async Task<SessionContinuation> GetContinuationAsync(string userId, int messages)
    {
        ThrowIfInvalidKey();
        var state = State;
        if (!state.Exists)
        {
            throw NotFound();
        }
        if (!string.Equals(state.UserId, userId, StringComparison.Ordinal))
        {
            throw new ContinuationNotAllowedException($"Session {state.SessionId} belongs to another user.");
        }
        if (state.IsLive && !state.IsDueAt(_time.GetUtcNow()))
        {
            throw new ContinuationNotAllowedException($"Session {state.SessionId} is still live; only an ended session can be continued.");
        }
        var header = await ReadableDataAsync();
        var attributes = await LoadAttributesAsync(header);
        var held = header is null ? [] : await LoadMessagesAsync(header);
        var last = held.GetRange(held.Count - Math.Min(messages, held.Count), Math.Min(messages, held.Count));
        return new SessionContinuation(state.Labels, new Dictionary<string, string>(attributes, StringComparer.Ordinal), last);
    }

    /// <summary>
    /// The header of data that can be read now: null when the session has had none; throws when there is no session or
    /// its data is gone. A live session past its deadline ends first.
    /// </summary>
    private async Task<SessionDataHeader?> ReadableDataAsync()
    {
        var state = State;
        if (!state.Exists)
        {
            throw NotFound();
        }
        var now = _time.GetUtcNow();
        if (state.IsDueAt(now))
        {
            await ExpireAsync(now);
        }
        if (State.IsLive)
        {
            return State.Data;
        }
        var header = State.Data;
        if (header is null || header.IsGoneAt(now))
        {
            throw new SessionDataDeletedException($"The data of session {state.SessionId} was deleted when it ended.");
        }
        return header;
    }

    /// <summary>The time of a write to a live session; ends a session past its deadline and throws as a touch does.</summary>
    private async ValueTask<DateTimeOffset> LiveForWriteAsync()
    {
        var state = State;
        if (!state.IsLive)
        {
            throw EndedOrMissing(state);
        }
        var now = _time.GetUtcNow();
        if (state.IsDueAt(now))
        {
            await ExpireAsync(now);
            throw new SessionExpiredException($"Session {state.SessionId} has expired.");
        }
        return now;
    }

    /// <summary>
    /// Before a record held by storage is overwritten: true when the stored state's data version is this activation's,
    /// so the record is one no stored state names (a write cut off before its state). Otherwise another activation has
    /// written since: this one is stale, deactivates, and the caller's call fails.
    /// </summary>
    private async Task<bool> StoredVersionIsOursAsync()
    {
        var stored = new GrainState<SessionState>(new SessionState());
        await _services.GrainStorage.ReadStateAsync(SessionStorage.SessionStateName, this.GetGrainId(), stored);
        if ((stored.State?.Data?.Version ?? 0) == (State.Data?.Version ?? 0) && stored.State?.Status == State.Status)
        {
            return true;
        }
        SessionLog.SessionEndAdopted(_services.SessionLogger, this.GetPrimaryKeyString(), "stale activation");
        StopLive();
        DeactivateOnIdle();
        return false;
    }

    private static void CheckVersion(SessionDataHeader header, long? ifVersion)
    {
        if (ifVersion is { } expected && expected != header.Version)
        {
            throw new SessionVersionConflictException($"The session's data version is {header.Version}, not {expected}.", header.Version);
        }
    }

    /// <summary>A data write's touch, stored with its new header in one write of the state (whatever Sessions:PersistTouches says).</summary>
    private async Task<SessionInfo> WriteActivityAsync(DateTimeOffset now)
    {
        var previousDeadline = State.Touch(now, _services.Options);
        if (State.ExpiresAt < previousDeadline)
        {
            await UpsertIndexAsync();
            ArmTimers(now);
        }
        var info = await WriteTouchNowAsync();
        _unwrittenTouches = false;
        return info;
    }

    private async Task<IReadOnlyDictionary<string, string>> LoadAttributesAsync(SessionDataHeader? header)
    {
        if (_attributes is { } cached)
        {
            return cached;
        }
        if (header is null || header.AttributesSlot == 0)
        {
            return _attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        }
        return _attributes = await Records.ReadAttributesAsync(header.AttributesSlot);
    }

    private async Task<List<SessionMessage>> LoadMessagesAsync(SessionDataHeader header)
    {
        if (_messages is { } cached)
        {
            return cached;
        }
        var held = new List<SessionMessage>((int)Math.Min(header.HeldCount(), 1024));
        var chain = await StartChainAsync(header);
        await ReadRecordsAsync(header, chain, held, strict: true, all: true);
        _chain = chain;
        return _messages = held;
    }

    /// <summary>
    /// A chain of <paramref name="header"/>'s records that knows those being cleared (before <see cref="SessionDataHeader.ReadFrom"/>):
    /// a walk from <see cref="SessionDataHeader.ChainStart"/> to the first missing one (they are cleared newest first).
    /// </summary>
    private async Task<SessionMessageChain> StartChainAsync(SessionDataHeader header)
    {
        var chain = SessionMessageChain.Unread(header);
        if (header.ChainStart == 0)
        {
            return chain;
        }
        for (var id = header.ChainStart; id < header.ReadFrom;)
        {
            var dead = await Records.TryReadMessagesAsync(id);
            if (dead is not { Count: > 0 } || dead[0].Id != id)
            {
                break;
            }
            chain.Dead.Add(id);
            id += dead.Count;
        }
        if (chain.Dead.Count == 0)
        {
            // None is left to clear: the next state write says so.
            header.ChainStart = header.ReadFrom;
        }
        return chain;
    }

    /// <summary>
    /// Reads the next record of <paramref name="chain"/> (<see cref="SessionMessageChain.KnownEnd"/>), or with
    /// <paramref name="all"/> every record up to the newest; the messages held go to <paramref name="held"/> when given.
    /// With <paramref name="strict"/> a missing record (which the header says is stored) throws; without (clearing), the
    /// walk stops there: a clear cut off leaves the oldest records.
    /// </summary>
    private async Task ReadRecordsAsync(SessionDataHeader header, SessionMessageChain chain, List<SessionMessage>? held, bool strict, bool all)
    {
        var firstHeld = header.FirstHeldId();
        do
        {
            if (chain.IsComplete(header))
            {
                return;
            }
            var id = chain.KnownEnd;
            var record = await Records.TryReadMessagesAsync(id);
            if (record is not { Count: > 0 } || record[0].Id != id)
            {
                if (!strict)
                {
                    return;
                }
                throw new InvalidOperationException(
                    $"Session {this.GetPrimaryKeyString()}: message record {id} is missing from storage (its data header names records up to {header.LastMessageId}).");
            }
            var sizes = new int[record.Count];
            for (var i = 0; i < record.Count; i++)
            {
                sizes[i] = SessionDataRules.SizeOf(record[i]);
                if (record[i].Id >= firstHeld)
                {
                    held?.Add(record[i]);
                }
            }
            chain.Add(id, sizes, firstHeld);
        }
        while (all);
    }

    private static void TrimHeld(List<SessionMessage> held, SessionDataHeader header)
    {
        var firstHeld = header.FirstHeldId();
        var drop = 0;
        while (drop < held.Count && held[drop].Id < firstHeld)
        {
            drop++;
        }
        held.RemoveRange(0, drop);
    }

    /// <summary>
    /// Clears the records that hold no message still held, newest first; once all are cleared the chain starts where
    /// reads do, which the next state write stores. Failures wait for a later append or the end.
    /// </summary>
    private async Task ClearDeadRecordsAsync(SessionDataHeader header)
    {
        if (_chain is not { Dead.Count: > 0 } chain)
        {
            return;
        }
        try
        {
            while (chain.Dead.Count > 0)
            {
                await Records.ClearMessagesAsync(chain.Dead[^1]);
                chain.Dead.RemoveAt(chain.Dead.Count - 1);
            }
            header.ChainStart = header.ReadFrom;
        }
        catch (Exception exception)
        {
            SessionLog.DataRecordsNotCleared(_services.SessionLogger, exception, State.SessionId);
        }
    }

    /// <summary>
    /// Converts a session state stored in the layout before the chain (see <see cref="SessionDataHeader.UpgradeLegacyLayout"/>)
    /// and clears, oldest first as that layout did, the records it named that hold no message held. Called once the
    /// state is read, before anything writes it.
    /// </summary>
    private async Task UpgradeLegacyDataAsync()
    {
        if (State.Data?.UpgradeLegacyLayout() is not { } chain)
        {
            return;
        }
        var header = State.Data;
        _chain = chain;
        _messages = null;
        try
        {
            while (chain.Dead.Count > 0)
            {
                await Records.ClearMessagesAsync(chain.Dead[0]);
                chain.Dead.RemoveAt(0);
            }
        }
        catch (Exception exception)
        {
            SessionLog.DataRecordsNotCleared(_services.SessionLogger, exception, State.SessionId);
        }
        // Left: the newest of those records, which that layout had not cleared yet: one run from the first of them.
        header.ChainStart = chain.Dead.Count > 0 ? chain.Dead[0] : header.ReadFrom;
        if (header.Status == SessionDataStatus.Deleted)
        {
            // Nothing is read from deleted data: the end walks what is left when it clears it.
            _chain = null;
        }
    }

    /// <summary>
    /// Clears the records of an ended session whose data is deleted (the header says where they are). True when done;
    /// false when storage failed, which the caller leaves to the janitor (the index row stays).
    /// </summary>
    private async Task<bool> TryClearDataAsync(long? orphanChunk = null)
    {
        _attributes = null;
        _messages = null;
        var chain = _chain;
        _chain = null;
        var header = State.Data;
        if (orphanChunk is null && _unlistedRecords)
        {
            // Clears the message record a cut-off append may have stored (and, with it, both attributes slots).
            orphanChunk = (header?.LastMessageId ?? 0) + 1;
        }
        if ((header is null || !header.HasRecords()) && orphanChunk is null)
        {
            return true;
        }
        try
        {
            // The activation's own index as far as it knows the records; the rest as a walk finds it.
            if (header is not null)
            {
                chain ??= await StartChainAsync(header);
                await ReadRecordsAsync(header, chain, held: null, strict: false, all: true);
            }
            await Records.ClearAllAsync(chain ?? new SessionMessageChain(), orphanChunk, attributes: header?.AttributesSlot is > 0 || orphanChunk is not null);
        }
        catch (Exception exception)
        {
            SessionLog.DataRecordsNotCleared(_services.SessionLogger, exception, this.GetPrimaryKeyString());
            return false;
        }
        if (header is not null)
        {
            header.ChainStart = 0;
            header.ReadFrom = 0;
            header.AttributesSlot = 0;
        }
        _services.Metrics.DataDeleted();
        return true;
    }

    /// <summary>Deletes retained data whose time has come: marks it deleted in the state, then clears its records.</summary>
    private async Task<bool> DeleteRetainedDataAsync()
    {
        var header = State.Data!;
        header.Status = SessionDataStatus.Deleted;
        header.DeleteAt = null;
        await _state.WriteStateAsync();
        return await TryClearDataAsync();
    }

    /// <summary>Writes the records a new session starts with (before its state): initial or continued attributes and messages.</summary>
    private async Task<SessionDataHeader?> WriteSeedAsync(SessionSeed? seed)
    {
        if (seed is null || !seed.HasData)
        {
            return null;
        }
        var header = new SessionDataHeader { Version = 1 };
        if (seed.Attributes is { Count: > 0 } attributes)
        {
            await Records.WriteAttributesAsync(1, attributes);
            header.AttributesSlot = 1;
            header.AttributesBytes = SessionDataRules.AttributesBytes(attributes);
            _attributes = attributes;
        }
        if (seed.Messages is { Count: > 0 } continued)
        {
            var messages = new List<SessionMessage>(continued.Count);
            var sizes = new int[continued.Count];
            for (var i = 0; i < continued.Count; i++)
            {
                messages.Add(continued[i] with { Id = i + 1 });
                sizes[i] = SessionDataRules.SizeOf(continued[i]);
            }
            await Records.WriteMessagesAsync(1, messages);
            _chain = SessionMessageChain.Unread(header);
            header.Append(sizes, _services.Options, _chain);
            _messages = messages;
            TrimHeld(_messages, header);
        }
        return header;
    }
}
