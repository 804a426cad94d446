using System.Diagnostics;
using System.Globalization;
using Npgsql;
using OrleansSessions.Sessions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>
/// Chat traffic on sessions for the durability tests: one writer per session, each in turn appending a chat turn (the
/// user's message and the reply, in one <see cref="ISessionGrain.AppendMessagesAsync"/>) or setting the session's
/// "counter" attribute to the number of its attempt. It records what was acknowledged and what was only attempted, and
/// <see cref="VerifyAsync"/> checks what the sessions hold against it.
/// </summary>
/// <remarks>
/// A call that failed (transient or not) may or may not have landed: its messages may be stored (then with both
/// messages, in the ids the grain gave them) or not, its counter value may be the stored one. A call that was
/// acknowledged must be stored as acknowledged: its messages under the ids returned, the data version never below the
/// highest acknowledged, the counter at the last acknowledged value unless a failed attempt landed later.
/// </remarks>
internal sealed class ChatTraffic
{
    /// <summary>Each writer's calls are bounded by this, as a caller would; a call cut off by it counts as failed.</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    private readonly IClusterClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _writers = [];

    private ChatTraffic(IClusterClient client, IReadOnlyList<ChatSession> sessions)
    {
        _client = client;
        Sessions = sessions;
    }

    public IReadOnlyList<ChatSession> Sessions { get; }

    public long Acknowledged => Sessions.Sum(s => s.Acknowledged);

    public long Failed => Sessions.Sum(s => s.Failed);

    /// <summary>Failures that are not classified as transient (each also counts as failed).</summary>
    public IEnumerable<string> Unexpected => Sessions.SelectMany(s => s.Unexpected);

    /// <summary>Creates one session for each of <paramref name="users"/> (retrying transient failures).</summary>
    public static async Task<ChatTraffic> CreateAsync(IClusterClient client, IEnumerable<string> users)
    {
        var sessions = new List<ChatSession>();
        foreach (var user in users)
        {
            var info = await Calls.RetryAsync(() => client.GetGrain<IUserSessionsGrain>(user).CreateSessionAsync(), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10));
            sessions.Add(new ChatSession(info.SessionId, user));
        }
        return new ChatTraffic(client, sessions);
    }

    /// <summary>Starts one writer per session, each waiting <paramref name="pace"/> between its calls.</summary>
    public void Start(TimeSpan pace)
    {
        foreach (var session in Sessions)
        {
            session.Pace = pace;
            _writers.Add(Task.Run(() => WriteAsync(session)));
        }
    }

    /// <summary>Stops every writer and waits for the calls in flight (each bounded by the call timeout).</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_writers).WaitAsync(CallTimeout * 3);
    }

    /// <summary>True when every session not halted had a call acknowledged that started after <paramref name="timestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public bool AllAcknowledgedSince(long timestamp) => Sessions.All(s => s.Halted || s.LastAcknowledgedStart > timestamp);

    public string Summary()
        => $"{Sessions.Count} sessions: {Acknowledged} writes acknowledged ({Sessions.Sum(s => s.AcknowledgedAppends)} appends, {Sessions.Sum(s => s.AcknowledgedAttributeWrites)} attribute writes), " +
           $"{Failed} failed ({Unexpected.Count()} not transient), {Sessions.Count(s => s.Halted)} writers halted";

    private async Task WriteAsync(ChatSession session)
    {
        var grain = _client.GetGrain<ISessionGrain>(session.Id);
        for (var op = 1; !_stop.IsCancellationRequested && !session.Halted; op++)
        {
            var started = Stopwatch.GetTimestamp();
            if (op % 3 == 0)
            {
                var counter = session.AttemptAttributeWrite();
                try
                {
                    var written = await grain.UpdateAttributesAsync(new Dictionary<string, string?> { ["counter"] = counter.ToString(CultureInfo.InvariantCulture) }).WaitAsync(CallTimeout);
                    session.AcknowledgeAttributeWrite(counter, written, started);
                }
                catch (Exception ex)
                {
                    session.Fail(counter, ex);
                }
            }
            else
            {
                var turn = session.AttemptTurn(op);
                try
                {
                    var appended = await grain.AppendMessagesAsync(turn).WaitAsync(CallTimeout);
                    session.AcknowledgeAppend(turn, appended, started);
                }
                catch (Exception ex)
                {
                    session.Fail(null, ex);
                }
            }
            if (session.Pace > TimeSpan.Zero)
            {
                // Pacing of the load (not a wait for a condition).
                await Task.Delay(session.Pace);
            }
            else
            {
                await Task.Yield();
            }
        }
    }

    /// <summary>
    /// Reads every session's conversation and attributes through <paramref name="client"/> (retrying transient failures)
    /// and returns what contradicts the record: lost or changed acknowledged messages, messages never sent, a half-stored
    /// turn, gaps in the ids, a data version below the acknowledged, a counter that no write set.
    /// </summary>
    public async Task<List<string>> VerifyAsync(IClusterClient client)
    {
        var problems = new List<string>[Sessions.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, Sessions.Count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var session = Sessions[i];
            var grain = client.GetGrain<ISessionGrain>(session.Id);
            var conversation = await Calls.RetryAsync(() => grain.GetMessagesAsync(), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10));
            var attributes = await Calls.RetryAsync(() => grain.GetAttributesAsync(), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10));
            session.Stored = conversation;
            problems[i] = session.Check(conversation, attributes);
        });
        return problems.SelectMany(p => p).ToList();
    }

    /// <summary>Rows of the sessions' data records (state names session-messages and session-attributes) in the PostgreSQL grain storage.</summary>
    public async Task<List<string>> PostgresRecordsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT service_id, state_name, grain_id FROM orleanssessions_state " +
            "WHERE state_name IN ('session-messages', 'session-attributes') AND split_part(grain_id, '/', 2) = ANY(@ids) ORDER BY grain_id",
            connection);
        command.Parameters.AddWithValue("ids", Sessions.Select(s => s.Id).ToArray());
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add($"{reader.GetString(0)} {reader.GetString(1)} {reader.GetString(2)}");
        }
        return rows;
    }

    /// <summary>
    /// Keys of the sessions' data records in Redis. Orleans' Redis grain storage keys a state "{ServiceId}/state/{GrainId}/{state name}",
    /// and a data record's GrainId is "session-messages/{sessionId}/{firstId}" or "session-attributes/{sessionId}/{slot}".
    /// </summary>
    public async Task<List<string>> RedisRecordsAsync(string endpoint)
    {
        var ids = Sessions.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        var keys = new List<string>();
        foreach (var type in new[] { "session-messages", "session-attributes" })
        {
            keys.AddRange((await RedisKeys.ScanAsync(endpoint, $"*/{type}/sess_*")).Where(k => ids.Any(id => k.Contains($"/{type}/{id}/", StringComparison.Ordinal))));
        }
        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    /// <summary>Explains leftover record keys: whose session, and for a message record whether it is the one after the session's last stored message.</summary>
    public string Explain(IEnumerable<string> leftovers)
        => string.Join('\n', leftovers.Select(key =>
        {
            var session = Sessions.FirstOrDefault(s => key.Contains(s.Id, StringComparison.Ordinal));
            if (session is null)
            {
                return key;
            }
            var lastId = session.Stored is { } stored ? stored.Trimmed + stored.Messages.Count : -1;
            return $"{key} (session {(session.Halted ? "halted at the kill" : "written to the end")}, {session.Note}; last stored message id {lastId}; " +
                   $"{session.AcknowledgedAppends} appends and {session.AcknowledgedAttributeWrites} attribute writes acknowledged, {session.Failed} failed)";
        }));
}

/// <summary>One session of <see cref="ChatTraffic"/>: what its writer attempted and what was acknowledged.</summary>
internal sealed class ChatSession(string id, string userId)
{
    private readonly object _gate = new();

    // Acknowledged messages by id; the contents of every message attempted (acknowledged or not).
    private readonly Dictionary<long, SessionMessage> _acknowledgedMessages = [];
    private readonly HashSet<string> _attempted = new(StringComparer.Ordinal);
    private readonly HashSet<long> _failedCounters = [];
    private readonly List<string> _unexpected = [];
    private readonly List<string> _anomalies = [];
    private long _lastAcknowledgedId;
    private long _acknowledgedVersion;
    private long _acknowledgedCounter;
    private long _counterAttempts;
    private long _acknowledged;
    private long _failed;
    private long _acknowledgedAppends;
    private long _acknowledgedAttributeWrites;
    private long _lastAcknowledgedStart;
    private volatile bool _halted;

    public string Id { get; } = id;

    public string UserId { get; } = userId;

    /// <summary>Where the session was when it mattered (e.g. "on the killed silo"), for messages.</summary>
    public string Note { get; set; } = "";

    /// <summary>The pause between the writer's calls (zero: back to back).</summary>
    public TimeSpan Pace { get; set; }

    /// <summary>Set to stop this session's writer after its call in flight: that call is its last.</summary>
    public bool Halted
    {
        get => _halted;
        set => _halted = value;
    }

    /// <summary>What the last <see cref="ChatTraffic.VerifyAsync"/> read.</summary>
    public SessionConversation? Stored { get; set; }

    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    public long Failed => Interlocked.Read(ref _failed);

    public long AcknowledgedAppends => Interlocked.Read(ref _acknowledgedAppends);

    public long AcknowledgedAttributeWrites => Interlocked.Read(ref _acknowledgedAttributeWrites);

    public long LastAcknowledgedStart => Interlocked.Read(ref _lastAcknowledgedStart);

    public IReadOnlyList<string> Unexpected
    {
        get
        {
            lock (_gate)
            {
                return [.. _unexpected];
            }
        }
    }

    public long AttemptAttributeWrite()
    {
        lock (_gate)
        {
            return ++_counterAttempts;
        }
    }

    public List<NewSessionMessage> AttemptTurn(int op)
    {
        // Contents unique per session and call; lengths vary so records differ in size.
        var question = $"{Id} op {op.ToString(CultureInfo.InvariantCulture)}: question {new string('q', op % 37)}";
        var answer = $"{Id} op {op.ToString(CultureInfo.InvariantCulture)}: answer {new string('a', (op * 7) % 113)}";
        lock (_gate)
        {
            _attempted.Add(question);
            _attempted.Add(answer);
        }
        return [new(MessageRoles.User, question), new(MessageRoles.Assistant, answer)];
    }

    public void AcknowledgeAppend(List<NewSessionMessage> turn, SessionAppendResult appended, long started)
    {
        lock (_gate)
        {
            var messages = appended.Messages;
            if (messages.Count != 2 || messages[1].Id != messages[0].Id + 1
                || messages[0].Content != turn[0].Content || messages[1].Content != turn[1].Content
                || messages[0].Role != turn[0].Role || messages[1].Role != turn[1].Role)
            {
                _anomalies.Add($"append acknowledged with other messages than sent: {string.Join(", ", messages.Select(m => $"#{m.Id} {m.Role}"))}");
            }
            foreach (var message in messages)
            {
                if (message.Id <= _lastAcknowledgedId)
                {
                    // An id handed out twice: the earlier acknowledged message was overwritten.
                    _anomalies.Add($"append acknowledged with id {message.Id}, not above the last acknowledged id {_lastAcknowledgedId}");
                }
                _acknowledgedMessages[message.Id] = message;
                _lastAcknowledgedId = Math.Max(_lastAcknowledgedId, message.Id);
            }
            NoteVersion(appended.DataVersion, "append");
            _acknowledgedAppends++;
            Acknowledge(started);
        }
    }

    public void AcknowledgeAttributeWrite(long counter, SessionAttributes written, long started)
    {
        lock (_gate)
        {
            if (written.Attributes.GetValueOrDefault("counter") != counter.ToString(CultureInfo.InvariantCulture))
            {
                _anomalies.Add($"attribute write of counter {counter} acknowledged with counter {written.Attributes.GetValueOrDefault("counter")}");
            }
            NoteVersion(written.DataVersion, "attribute write");
            _acknowledgedCounter = counter;
            _acknowledgedAttributeWrites++;
            Acknowledge(started);
        }
    }

    public void Fail(long? counter, Exception ex)
    {
        lock (_gate)
        {
            _failed++;
            if (counter is { } value)
            {
                _failedCounters.Add(value);
            }
            if (!Calls.IsTransient(ex))
            {
                _unexpected.Add($"{Id}: {ex.GetType().FullName}: {ex.Message}");
            }
        }
    }

    private void NoteVersion(long version, string what)
    {
        if (version <= _acknowledgedVersion)
        {
            _anomalies.Add($"{what} acknowledged with data version {version}, not above the acknowledged {_acknowledgedVersion}");
        }
        _acknowledgedVersion = Math.Max(_acknowledgedVersion, version);
    }

    private void Acknowledge(long started)
    {
        _acknowledged++;
        Interlocked.Exchange(ref _lastAcknowledgedStart, Math.Max(_lastAcknowledgedStart, started));
    }

    /// <summary>What in the stored conversation and attributes contradicts this record.</summary>
    public List<string> Check(SessionConversation conversation, SessionAttributes attributes)
    {
        lock (_gate)
        {
            var problems = _anomalies.Select(a => $"{Id} ({Note}): {a}").ToList();
            void Problem(string text) => problems.Add($"{Id} ({Note}): {text}");

            var held = conversation.Messages;
            var firstHeld = conversation.Trimmed + 1;
            for (var i = 0; i < held.Count; i++)
            {
                if (held[i].Id != firstHeld + i)
                {
                    Problem($"message at position {i} has id {held[i].Id}, expected {firstHeld + i} (trimmed {conversation.Trimmed})");
                    break;
                }
            }
            var byId = held.GroupBy(m => m.Id).ToDictionary(g => g.Key, g => g.First());
            foreach (var (messageId, expected) in _acknowledgedMessages.OrderBy(kv => kv.Key))
            {
                if (messageId < firstHeld)
                {
                    continue; // trimmed by the conversation's bound, which the trimmed count says
                }
                if (!byId.TryGetValue(messageId, out var actual))
                {
                    Problem($"acknowledged message #{messageId} ({expected.Role}) is lost (stored ids {(held.Count == 0 ? "none" : $"{held[0].Id}..{held[^1].Id}")})");
                }
                else if (actual.Content != expected.Content || actual.Role != expected.Role)
                {
                    Problem($"acknowledged message #{messageId} is stored as {actual.Role} '{Shorten(actual.Content)}', acknowledged as {expected.Role} '{Shorten(expected.Content)}'");
                }
            }
            var contents = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < held.Count; i++)
            {
                var message = held[i];
                if (!_attempted.Contains(message.Content))
                {
                    Problem($"stored message #{message.Id} was never sent: '{Shorten(message.Content)}'");
                }
                if (!contents.Add(message.Content))
                {
                    Problem($"stored message #{message.Id} is stored twice: '{Shorten(message.Content)}'");
                }
                // A turn is stored whole: a question is followed by its answer, an answer preceded by its question
                // (unless the bound trimmed the question).
                var turn = message.Content[..message.Content.IndexOf(':', StringComparison.Ordinal)];
                if (message.Role == MessageRoles.User && (i + 1 >= held.Count || !held[i + 1].Content.StartsWith(turn + ": answer", StringComparison.Ordinal)))
                {
                    Problem($"stored question #{message.Id} ({turn}) is not followed by its answer");
                }
                if (message.Role == MessageRoles.Assistant && i > 0 && !held[i - 1].Content.StartsWith(turn + ": question", StringComparison.Ordinal))
                {
                    Problem($"stored answer #{message.Id} ({turn}) is not preceded by its question");
                }
            }
            if (conversation.DataVersion != attributes.DataVersion)
            {
                Problem($"the conversation says data version {conversation.DataVersion}, the attributes {attributes.DataVersion}");
            }
            if (attributes.DataVersion < _acknowledgedVersion)
            {
                Problem($"data version {attributes.DataVersion} is below the acknowledged {_acknowledgedVersion}");
            }
            var stored = attributes.Attributes.GetValueOrDefault("counter");
            var counter = stored is null ? 0 : long.Parse(stored, CultureInfo.InvariantCulture);
            if (counter != _acknowledgedCounter && !_failedCounters.Contains(counter))
            {
                Problem($"counter is {stored ?? "missing"}: the last acknowledged write set {_acknowledgedCounter}, and no failed write set {stored ?? "none"}");
            }
            // Every change is one version: the turns stored (two messages each, trimmed or not) plus the attribute
            // writes stored, which are at least those acknowledged and at most those attempted.
            var lastId = conversation.Trimmed + held.Count;
            var attributeWrites = attributes.DataVersion - (lastId / 2);
            if (lastId % 2 != 0 || attributeWrites < _acknowledgedAttributeWrites || attributeWrites > _counterAttempts)
            {
                Problem($"data version {attributes.DataVersion} with {lastId} messages stored means {attributeWrites} attribute writes; {_acknowledgedAttributeWrites} were acknowledged of {_counterAttempts} attempted");
            }
            return problems;
        }
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "...";
}
