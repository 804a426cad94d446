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
/// The part of a session's stored state that says where its data is: the version, the conversation's ids and sizes,
/// which message records hold it and which attributes record is current. The data itself is in records of its own
/// (<see cref="SessionDataRecords"/>), so a touch, which rewrites the session's state, rewrites this header and none of
/// the data. Every rule is a pure function of the header, the options and the values given.
/// </summary>
/// <remarks>
/// A record is written before the state that lists it, so whatever is killed when, the stored state only names records
/// that hold what it says: a message record is keyed by its first message id and an attributes record by one of two
/// slots, and a write cut off before its state is overwritten by the next write under the same key.
/// </remarks>
[GenerateSerializer, Alias("OrleansSessions.SessionDataHeader")]
internal sealed class SessionDataHeader
{
    /// <summary>Incremented by every change to the attributes or the conversation.</summary>
    [Id(0)]
    public long Version { get; set; }

    /// <summary>The id of the newest message (0 before the first).</summary>
    [Id(1)]
    public long LastMessageId { get; set; }

    /// <summary>How many of the oldest messages were dropped to keep the conversation within its bounds.</summary>
    [Id(2)]
    public long Trimmed { get; set; }

    /// <summary>The size in bytes of each message held, oldest first (ids <see cref="FirstHeldId"/> to <see cref="LastMessageId"/>).</summary>
    [Id(3)]
    public List<int> Sizes { get; set; } = [];

    /// <summary>The sum of <see cref="Sizes"/>.</summary>
    [Id(4)]
    public long Bytes { get; set; }

    /// <summary>The first message id of each stored message record, ascending (a record's last id is one less than the next's first).</summary>
    [Id(5)]
    public List<long> Chunks { get; set; } = [];

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

    /// <summary>The id of the oldest message held.</summary>
    public long FirstHeldId => LastMessageId - Sizes.Count + 1;

    /// <summary>True when storage may hold records of this session's data.</summary>
    public bool HasRecords => AttributesSlot != 0 || Chunks.Count != 0;

    /// <summary>The last message id of the record starting at <see cref="Chunks"/>[<paramref name="index"/>].</summary>
    public long ChunkEnd(int index) => index + 1 < Chunks.Count ? Chunks[index + 1] - 1 : LastMessageId;

    /// <summary>
    /// Accounts for messages of <paramref name="sizes"/> appended as one record, then drops the oldest while the
    /// conversation is past <see cref="SessionOptions.ConversationLimit"/> or <see cref="SessionOptions.MaxConversationBytes"/>.
    /// Returns the first id of the appended messages.
    /// </summary>
    public long Append(IReadOnlyList<int> sizes, SessionOptions options)
    {
        var first = LastMessageId + 1;
        Chunks.Add(first);
        foreach (var size in sizes)
        {
            Sizes.Add(size);
            Bytes += size;
        }
        LastMessageId += sizes.Count;
        var drop = 0;
        var bytes = Bytes;
        while (Sizes.Count - drop > options.ConversationLimit || bytes > options.MaxConversationBytes)
        {
            bytes -= Sizes[drop];
            drop++;
        }
        if (drop > 0)
        {
            Sizes.RemoveRange(0, drop);
            Bytes = bytes;
            Trimmed += drop;
        }
        return first;
    }

    /// <summary>The first ids of the records that hold no message still held (to be cleared), oldest first.</summary>
    public List<long> DeadChunks()
    {
        var dead = new List<long>();
        var firstHeld = FirstHeldId;
        for (var i = 0; i < Chunks.Count && ChunkEnd(i) < firstHeld; i++)
        {
            dead.Add(Chunks[i]);
        }
        return dead;
    }

    /// <summary>Forgets records cleared by <see cref="DeadChunks"/> (they were the oldest).</summary>
    public void DropChunks(int count) => Chunks.RemoveRange(0, Math.Min(count, Chunks.Count));

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
