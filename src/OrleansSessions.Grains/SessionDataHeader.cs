using OrleansSessions.Grains.Options;

namespace OrleansSessions.Grains;

/// <summary>Whether a session's data can be read.</summary>
internal enum SessionDataStatus : byte
{
    /// <summary>The session is live: its data is read and written.</summary>
    Live = 0,

    /// <summary>The session ended and Sessions:DataRetention keeps its data, read-only, until <see cref="SessionDataHeader.DeleteAt"/>.</summary>
    Retained = 1,

    /// <summary>The data is deleted (or being deleted: the records the header lists may still be cleared).</summary>
    Deleted = 2,
}

/// <summary>
/// The part of a session's stored state that says where its data is: the version, the conversation's bounds (last id,
/// how many dropped, total bytes), where its chain of message records starts and which attributes record is current.
/// Its size does not depend on the conversation's length, so a touch, which rewrites the session's state, and an append
/// rewrite the same few bytes at 10 messages as at 200. The data itself is in records of its own
/// (<see cref="SessionDataRecords"/>). Every rule is a pure function of the header, the options and the values given.
/// </summary>
/// <remarks>
/// <para>
/// Message records form a chain: the record starting at id f with n messages is followed by the record starting at
/// f + n, up to the one holding <see cref="LastMessageId"/>. Every record from <see cref="ReadFrom"/> to that one is
/// stored. The records from <see cref="ChainStart"/> up to <see cref="ReadFrom"/> hold only dropped messages and are
/// being cleared, newest first, so whichever of them are still stored are one run starting at <see cref="ChainStart"/>:
/// a walk from there that stops at the first missing record finds them all.
/// </para>
/// <para>
/// A record is written before the state that names it, so whatever is killed when, the stored state only names records
/// that hold what it says: a message record is keyed by its first message id and an attributes record by one of two
/// slots, and a write cut off before its state is overwritten by the next write under the same key.
/// </para>
/// </remarks>
[GenerateSerializer, Alias("OrleansSessions.SessionDataHeader")]
[Newtonsoft.Json.JsonObject(IsReference = false)]
internal sealed class SessionDataHeader
{
    /// <summary>Incremented by every change to the attributes or the conversation.</summary>
    [Id(0)]
    public long Version { get; set; }

    /// <summary>The id of the newest message (0 before the first). Ids start at 1 (a continued session's too).</summary>
    [Id(1)]
    public long LastMessageId { get; set; }

    /// <summary>How many of the oldest messages were dropped to keep the conversation within its bounds.</summary>
    [Id(2)]
    public long Trimmed { get; set; }

    /// <summary>The layout before the chain: the size of each message held. Read from states stored then (<see cref="UpgradeLegacyLayout"/>), never written.</summary>
    [Id(3)]
    [Obsolete("Stored states of the layout before the chain only; see UpgradeLegacyLayout.")]
    public List<int>? Sizes { get; set; }

    /// <summary>The sum of the sizes of the messages held (UTF-8 bytes of role, content and metadata).</summary>
    [Id(4)]
    public long Bytes { get; set; }

    /// <summary>The layout before the chain: the first id of each stored message record. Read from states stored then (<see cref="UpgradeLegacyLayout"/>), never written.</summary>
    [Id(5)]
    [Obsolete("Stored states of the layout before the chain only; see UpgradeLegacyLayout.")]
    public List<long>? Chunks { get; set; }

    /// <summary>The attributes record in use: 1 or 2; 0 while the session has no attributes.</summary>
    [Id(6)]
    public int AttributesSlot { get; set; }

    /// <summary>The attributes' size as one JSON object (UTF-8 bytes).</summary>
    [Id(7)]
    public int AttributesBytes { get; set; }

    /// <summary>Whether the data can be read.</summary>
    [Id(8)]
    public SessionDataStatus Status { get; set; }

    /// <summary>When retained data is deleted (<see cref="SessionDataStatus.Retained"/>).</summary>
    [Id(9)]
    public DateTimeOffset? DeleteAt { get; set; }

    /// <summary>The first id of the oldest message record storage may hold; 0 when it holds none.</summary>
    [Id(10)]
    public long ChainStart { get; set; }

    /// <summary>
    /// The first id of a record from which every record up to the one holding <see cref="LastMessageId"/> is stored; it
    /// holds <see cref="FirstHeldId"/> (or, while older records wait to be cleared, a record before that one). Reads
    /// start here. 0 when no record is known to be stored.
    /// </summary>
    [Id(11)]
    public long ReadFrom { get; set; }

    // The values below are methods, not properties: Orleans' JSON grain storage serializer would store properties.

    /// <summary>The id of the oldest message held.</summary>
    public long FirstHeldId() => Trimmed + 1;

    /// <summary>How many messages are held (ids <see cref="FirstHeldId"/> to <see cref="LastMessageId"/>).</summary>
    public long HeldCount() => LastMessageId - Trimmed;

    /// <summary>True when storage may hold records of this session's data.</summary>
    public bool HasRecords() => AttributesSlot != 0 || ChainStart != 0;

    /// <summary>
    /// True when appending <paramref name="count"/> messages of <paramref name="bytes"/> in all drops older messages:
    /// then <see cref="Append"/> needs the sizes of the oldest held messages, from a <see cref="SessionMessageChain"/>.
    /// </summary>
    public bool TrimsOnAppend(int count, long bytes, SessionOptions options)
        => HeldCount() + count > options.ConversationLimit || Bytes + bytes > options.MaxConversationBytes;

    /// <summary>
    /// True when <paramref name="chain"/> does not know the sizes of every message that appending messages of
    /// <paramref name="sizes"/> drops: the caller reads the next record of the chain (<see cref="SessionMessageChain.KnownEnd"/>)
    /// and asks again.
    /// </summary>
    public bool NeedsMoreOfChain(IReadOnlyList<int> sizes, SessionOptions options, SessionMessageChain chain)
    {
        var held = HeldCount() + sizes.Count;
        var bytes = Bytes;
        foreach (var size in sizes)
        {
            bytes += size;
        }
        // The appended messages follow the known ones when nothing unread is in between.
        var tailKnown = chain.KnownEnd == LastMessageId + 1;
        var known = chain.Sizes;
        for (var drop = 0; held - drop > options.ConversationLimit || bytes > options.MaxConversationBytes; drop++)
        {
            if (drop < known.Count)
            {
                bytes -= known[drop];
            }
            else if (tailKnown && drop - known.Count < sizes.Count)
            {
                bytes -= sizes[drop - known.Count];
            }
            else
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Accounts for messages of <paramref name="sizes"/> appended as one record, then drops the oldest while the
    /// conversation is past <see cref="SessionOptions.ConversationLimit"/> or <see cref="SessionOptions.MaxConversationBytes"/>.
    /// <paramref name="chain"/>, the activation's index of the records, is kept in step; when <see cref="TrimsOnAppend"/>
    /// it must be given and know the sizes of the messages dropped (<see cref="NeedsMoreOfChain"/>). Returns the first
    /// id of the appended messages.
    /// </summary>
    public long Append(IReadOnlyList<int> sizes, SessionOptions options, SessionMessageChain? chain)
    {
        long added = 0;
        foreach (var size in sizes)
        {
            added += size;
        }
        if (TrimsOnAppend(sizes.Count, added, options) && (chain is null || NeedsMoreOfChain(sizes, options, chain)))
        {
            throw new InvalidOperationException("An append that drops messages needs their sizes from the chain of message records.");
        }
        var first = LastMessageId + 1;
        if (ChainStart == 0)
        {
            ChainStart = first;
            ReadFrom = first;
        }
        chain?.Add(first, sizes);
        LastMessageId += sizes.Count;
        Bytes += added;
        if (HeldCount() <= options.ConversationLimit && Bytes <= options.MaxConversationBytes)
        {
            return first;
        }

        var held = chain!.Sizes;
        var drop = 0;
        var bytes = Bytes;
        while (HeldCount() - drop > options.ConversationLimit || bytes > options.MaxConversationBytes)
        {
            bytes -= held[drop];
            drop++;
        }
        held.RemoveRange(0, drop);
        Bytes = bytes;
        Trimmed += drop;

        // Reads start at the record holding the oldest message held, once the records before the old start are cleared:
        // until then the records in between stay stored, so what is stored below ReadFrom is always one run from ChainStart.
        if (chain.Dead.Count == 0)
        {
            var records = chain.Records;
            var firstHeld = FirstHeldId();
            var dead = 0;
            while (dead < records.Count && (dead + 1 < records.Count ? records[dead + 1] : chain.KnownEnd) <= firstHeld)
            {
                dead++;
            }
            if (dead > 0)
            {
                chain.Dead.AddRange(records.GetRange(0, dead));
                records.RemoveRange(0, dead);
                ChainStart = chain.Dead[0];
                // The messages dropped were known, so the oldest held is in a known record or starts the first unknown one.
                ReadFrom = records.Count > 0 ? records[0] : chain.KnownEnd;
            }
        }
        return first;
    }

    /// <summary>
    /// Converts a header stored in the layout before the chain (a size per held message, a first id per record) to this
    /// one. Returns null when it was not of that layout; otherwise the activation's index of its records, whose
    /// <see cref="SessionMessageChain.Dead"/> lists, oldest first, the records it named that the caller must clear (the
    /// records of messages no longer held; all of them once the data is deleted). That layout cleared its records oldest
    /// first, so those of them still stored are the newest of the list: the caller clears them oldest first and leaves
    /// <see cref="ChainStart"/> at the first it could not clear.
    /// </summary>
    public SessionMessageChain? UpgradeLegacyLayout()
    {
#pragma warning disable CS0618 // the layout before the chain is read here only
        var sizes = Sizes;
        var chunks = Chunks;
        if (sizes is null && chunks is null)
        {
            return null;
        }
        Sizes = null;
        Chunks = null;
#pragma warning restore CS0618
        var chain = new SessionMessageChain { KnownEnd = LastMessageId + 1 };
        if (chunks is not { Count: > 0 })
        {
            ChainStart = 0;
            ReadFrom = 0;
            return chain;
        }
        if (Status == SessionDataStatus.Deleted)
        {
            chain.Dead.AddRange(chunks);
            ChainStart = chunks[0];
            // No record is known to be stored: whatever is left of them is one run from ChainStart (see the summary).
            ReadFrom = LastMessageId + 1;
            return chain;
        }
        var firstHeld = FirstHeldId();
        var holding = 0;
        while (holding + 1 < chunks.Count && chunks[holding + 1] <= firstHeld)
        {
            holding++;
        }
        chain.Dead.AddRange(chunks.GetRange(0, holding));
        chain.Records.AddRange(chunks.GetRange(holding, chunks.Count - holding));
        chain.Sizes.AddRange(sizes ?? []);
        ChainStart = chunks[0];
        ReadFrom = chunks[holding];
        return chain;
    }

    /// <summary>
    /// Sets what happens to the data at the session's end at <paramref name="endedAt"/>: deleted at once, or kept for
    /// Sessions:DataRetention (no longer than Sessions:HistoryRetention keeps the session in its user's history).
    /// </summary>
    public void End(DateTimeOffset endedAt, SessionOptions options)
    {
        var retention = options.DataRetention;
        if (options.HistoryRetention > TimeSpan.Zero && options.HistoryRetention < retention)
        {
            retention = options.HistoryRetention;
        }
        if (retention > TimeSpan.Zero)
        {
            Status = SessionDataStatus.Retained;
            DeleteAt = endedAt + retention;
        }
        else
        {
            Status = SessionDataStatus.Deleted;
            DeleteAt = null;
        }
    }

    /// <summary>True when the data can no longer be read at <paramref name="now"/>.</summary>
    public bool IsGoneAt(DateTimeOffset now)
        => Status == SessionDataStatus.Deleted || (Status == SessionDataStatus.Retained && DeleteAt is { } at && now >= at);
}

/// <summary>
/// An activation's index of its conversation's message records, kept in memory only (the stored header does not grow
/// with the conversation): the records from <see cref="SessionDataHeader.ReadFrom"/> it has read (or written itself, or
/// learnt from a header of the layout before the chain), with the sizes of their messages held. An append that drops
/// messages needs the sizes of the oldest: the activation reads the records from the oldest on, as far as the messages
/// dropped reach (a read of the conversation reads them all), and every later append keeps the index in step.
/// </summary>
internal sealed class SessionMessageChain
{
    /// <summary>The first ids of records before <see cref="SessionDataHeader.ReadFrom"/> that may be stored and hold no message held, oldest first: to be cleared, newest first.</summary>
    public List<long> Dead { get; } = [];

    /// <summary>The first id of each record known, from <see cref="SessionDataHeader.ReadFrom"/> on, oldest first (a record's last id is one less than the next's first, or than <see cref="KnownEnd"/>).</summary>
    public List<long> Records { get; } = [];

    /// <summary>The size of each message held in the records known, oldest first (from <see cref="SessionDataHeader.FirstHeldId"/> on).</summary>
    public List<int> Sizes { get; } = [];

    /// <summary>The first id after the records known: where the next record starts (past the last message id when every record is known).</summary>
    public long KnownEnd { get; set; }

    /// <summary>A chain of which no record from <paramref name="header"/>'s <see cref="SessionDataHeader.ReadFrom"/> on is known yet.</summary>
    public static SessionMessageChain Unread(SessionDataHeader header)
        => new() { KnownEnd = header.ChainStart == 0 ? header.LastMessageId + 1 : header.ReadFrom };

    /// <summary>True when every record up to the newest of <paramref name="header"/> is known.</summary>
    public bool IsComplete(SessionDataHeader header) => KnownEnd > header.LastMessageId;

    /// <summary>
    /// Adds the record starting at <paramref name="first"/> with messages of <paramref name="sizes"/> (those with ids from
    /// <paramref name="firstHeld"/> on are held) when it is the next record; a record after records not read yet is
    /// left for the walk to read when it gets there.
    /// </summary>
    public void Add(long first, IReadOnlyList<int> sizes, long firstHeld = 0)
    {
        if (first != KnownEnd)
        {
            return;
        }
        Records.Add(first);
        for (var i = 0; i < sizes.Count; i++)
        {
            if (first + i >= firstHeld)
            {
                Sizes.Add(sizes[i]);
            }
        }
        KnownEnd = first + sizes.Count;
    }
}
