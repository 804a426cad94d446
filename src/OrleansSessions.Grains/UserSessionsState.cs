using Newtonsoft.Json;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>The stored state of one user's sessions.</summary>
/// <remarks>
/// Every change is monotonic (a session id joins the live list once, moves to history once, and leaves history only
/// by trimming), so two versions of the state merge without loss: <see cref="MergeFrom"/>. That is how a user grain
/// recovers when its write meets a newer stored version (the janitor's bulk sweep, a duplicate activation).
/// </remarks>
[GenerateSerializer, Alias("OrleansSessions.UserSessionsState")]
[JsonObject(IsReference = false)]
internal sealed class UserSessionsState
{
    /// <summary>
    /// The tail of the live list: ids of the newest sessions believed live, oldest first, at most
    /// <see cref="LiveSessionList.TailLimit"/> before they are sealed into a page (<see cref="Pages"/>). In records
    /// written before pages existed it holds every live id; such a record is sealed into pages at its next create.
    /// </summary>
    [Id(0)]
    [JsonProperty(TypeNameHandling = TypeNameHandling.None)]
    public List<string> ActiveSessionIds { get; set; } = [];

    /// <summary>The most recently created session; empty when none.</summary>
    [Id(1)]
    public string CurrentSessionId { get; set; } = string.Empty;

    /// <summary>Ended sessions, newest first, at most Sessions:HistoryLimit.</summary>
    [Id(2)]
    [JsonProperty(TypeNameHandling = TypeNameHandling.None, ItemTypeNameHandling = TypeNameHandling.None, ItemIsReference = false)]
    public List<SessionInfo> History { get; set; } = [];

    /// <summary>
    /// Set by earlier versions, which applied Sessions:HistoryRetention with one Orleans reminder per user: that reminder
    /// may still be registered. The grain replaces it with its row in the deadline index (<see cref="RetentionDue"/>) and
    /// clears this flag; this version never sets it. Kept under its stored name so those records read as before.
    /// </summary>
    [Id(3)]
    public bool RetentionReminder { get; set; }

    /// <summary>Idempotency keys of recent creates, oldest first, at most <see cref="Options.SessionOptions.MaxIdempotencyKeysPerUser"/>.</summary>
    [Id(4)]
    [JsonProperty(TypeNameHandling = TypeNameHandling.None, ItemTypeNameHandling = TypeNameHandling.None, ItemIsReference = false)]
    public List<CreateKey> CreateKeys { get; set; } = [];

    /// <summary>Numbers of the sealed pages (<see cref="UserSessionsPage"/>) holding older live ids, oldest first.</summary>
    [Id(5)]
    [JsonProperty(TypeNameHandling = TypeNameHandling.None)]
    public List<int> Pages { get; set; } = [];

    /// <summary>The number the next sealed page gets; numbers are never reused.</summary>
    [Id(6)]
    public int NextPage { get; set; }

    /// <summary>
    /// The deadline the user's history-retention row in the deadline index was written with; null when this state wrote
    /// none. A row is written (or moved earlier) before a state that needs it is stored, so a stored state with no live
    /// session and history under Sessions:HistoryRetention always has a row due no later than this.
    /// </summary>
    [Id(7)]
    public DateTimeOffset? RetentionDue { get; set; }

    // Empty lists are left out of the stored JSON (a missing list loads as the empty one its initializer makes).
    public bool ShouldSerializeActiveSessionIds() => ActiveSessionIds.Count > 0;

    public bool ShouldSerializeHistory() => History.Count > 0;

    public bool ShouldSerializeCreateKeys() => CreateKeys.Count > 0;

    public bool ShouldSerializePages() => Pages.Count > 0;

    /// <summary>True when nothing is live, current or in history: the record holds nothing worth keeping.</summary>
    [JsonIgnore]
    public bool IsEmpty => ActiveSessionIds.Count == 0 && Pages.Count == 0 && History.Count == 0 && CurrentSessionId.Length == 0;

    /// <summary>
    /// Moves an ended session from the live list into history, once, at its place by <see cref="SessionInfo.EndedAt"/>
    /// (newest first, whatever order the ends are heard in), and trims history to <paramref name="historyLimit"/>; the
    /// ids trimmed off are added to <paramref name="trimmed"/>. An end older than every entry of a full history is not
    /// entered: it was trimmed already, or would be at once (its id is added to <paramref name="trimmed"/> when it was live,
    /// in this state's tail or, as <paramref name="wasLive"/> says, elsewhere). Returns true
    /// when the state changed.
    /// </summary>
    public bool RecordEnded(SessionInfo info, int historyLimit, List<string> trimmed, bool wasLive = false)
    {
        var removed = ActiveSessionIds.Remove(info.SessionId);
        wasLive |= removed;
        if (FindInHistory(info.SessionId) is not null)
        {
            return removed;
        }
        var position = InsertionPoint(info.EndedAt ?? DateTimeOffset.MinValue);
        if (position >= historyLimit)
        {
            // Re-entering it would push out a newer entry, and a trimmed session is forgotten already: the history
            // would then list a session that answers 404. One that was not live here any more was forgotten when it was
            // trimmed (a session's own late notice after a bulk end): it is not forgotten again.
            if (wasLive)
            {
                trimmed.Add(info.SessionId);
            }
            return removed;
        }
        History.Insert(position, info);
        Trim(historyLimit, trimmed);
        return true;
    }

    /// <summary>Where an entry that ended at <paramref name="endedAt"/> goes: after every entry that ended at or after it.</summary>
    private int InsertionPoint(DateTimeOffset endedAt)
    {
        int low = 0, high = History.Count;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if ((History[middle].EndedAt ?? DateTimeOffset.MinValue) >= endedAt)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }
        return low;
    }

    /// <summary>The session created under <paramref name="key"/> at or after <paramref name="since"/>, or null.</summary>
    public string? FindCreateKey(string key, DateTimeOffset since)
    {
        foreach (var entry in CreateKeys)
        {
            if (entry.At >= since && string.Equals(entry.Key, key, StringComparison.Ordinal))
            {
                return entry.SessionId;
            }
        }
        return null;
    }

    /// <summary>
    /// Remembers that <paramref name="key"/> created <paramref name="sessionId"/> at <paramref name="at"/>, and drops
    /// keys from before <paramref name="since"/> and the oldest beyond <paramref name="maxKeys"/>.
    /// </summary>
    public void RememberCreateKey(string key, string sessionId, DateTimeOffset at, DateTimeOffset since, int maxKeys)
    {
        CreateKeys.RemoveAll(entry => entry.At < since || string.Equals(entry.Key, key, StringComparison.Ordinal));
        CreateKeys.Add(new CreateKey(key, sessionId, at));
        if (CreateKeys.Count > maxKeys)
        {
            CreateKeys.RemoveRange(0, CreateKeys.Count - maxKeys);
        }
    }

    /// <summary>
    /// Drops history entries that ended before <paramref name="cutoff"/> (their ids are added to
    /// <paramref name="dropped"/>), and the current session id when it names one of them. Returns true when the state changed.
    /// </summary>
    public bool DropEndedBefore(DateTimeOffset cutoff, List<string> dropped)
    {
        var removed = 0;
        // Newest first: the old entries are at the end.
        for (var i = History.Count - 1; i >= 0 && (History[i].EndedAt ?? DateTimeOffset.MinValue) < cutoff; i--)
        {
            var id = History[i].SessionId;
            dropped.Add(id);
            if (string.Equals(CurrentSessionId, id, StringComparison.Ordinal))
            {
                CurrentSessionId = string.Empty;
            }
            History.RemoveAt(i);
            removed++;
        }
        return removed > 0;
    }

    /// <summary>The history entry of <paramref name="sessionId"/>, or null.</summary>
    public SessionInfo? FindInHistory(string sessionId)
    {
        foreach (var entry in History)
        {
            if (string.Equals(entry.SessionId, sessionId, StringComparison.Ordinal))
            {
                return entry;
            }
        }
        return null;
    }

    /// <summary>
    /// Adds what <paramref name="stored"/> knows and this state does not: history entries (kept newest end first),
    /// live ids not ended here, pages, and the current session when this state has none. Live ids that ended in either
    /// version leave the live list. <see cref="RetentionDue"/> stays this state's (the row its writer knows of; the
    /// writer checks the row against the merged state before writing it); a legacy <see cref="RetentionReminder"/> flag
    /// in either version stays set.
    /// </summary>
    public void MergeFrom(UserSessionsState stored, int historyLimit, List<string> trimmed)
    {
        var added = false;
        foreach (var entry in stored.History)
        {
            if (FindInHistory(entry.SessionId) is null)
            {
                History.Add(entry);
                added = true;
            }
        }
        if (added)
        {
            // Stable: entries that ended at the same instant keep the order this state gave them.
            var ordered = History.OrderByDescending(h => h.EndedAt ?? DateTimeOffset.MinValue).ToList();
            History.Clear();
            History.AddRange(ordered);
        }
        foreach (var id in stored.ActiveSessionIds)
        {
            if (!ActiveSessionIds.Contains(id))
            {
                ActiveSessionIds.Add(id);
            }
        }
        ActiveSessionIds.RemoveAll(id => FindInHistory(id) is not null);
        if (CurrentSessionId.Length == 0)
        {
            CurrentSessionId = stored.CurrentSessionId;
        }
        foreach (var page in stored.Pages)
        {
            if (!Pages.Contains(page))
            {
                Pages.Add(page);
            }
        }
        Pages.Sort();
        NextPage = Math.Max(NextPage, stored.NextPage);
        RetentionReminder |= stored.RetentionReminder;
        foreach (var entry in stored.CreateKeys)
        {
            if (!CreateKeys.Exists(mine => string.Equals(mine.Key, entry.Key, StringComparison.Ordinal)))
            {
                CreateKeys.Add(entry);
            }
        }
        CreateKeys.Sort((a, b) => a.At.CompareTo(b.At));
        Trim(historyLimit, trimmed);
    }

    private void Trim(int historyLimit, List<string> trimmed)
    {
        while (History.Count > historyLimit)
        {
            var last = History.Count - 1;
            trimmed.Add(History[last].SessionId);
            History.RemoveAt(last);
        }
    }
}

/// <summary>A create's idempotency key and the session it created.</summary>
[GenerateSerializer, Immutable, Alias("OrleansSessions.CreateKey")]
[JsonObject(IsReference = false)]
internal sealed record CreateKey([property: Id(0)] string Key, [property: Id(1)] string SessionId, [property: Id(2)] DateTimeOffset At);
