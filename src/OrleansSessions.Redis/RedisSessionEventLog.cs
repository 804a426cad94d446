using System.Globalization;
using Orleans.Serialization;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;
using StackExchange.Redis;

namespace OrleansSessions.Redis;

/// <summary>
/// The session event log on Redis, scoped by the Orleans ServiceId like grain state. Per partition p, keys in one hash
/// slot (so that the scripts also run on a Redis Cluster):
/// <list type="bullet">
/// <item><c>{ServiceId/events/p}/stream</c>: a stream, one entry per event, id <c>position-0</c>, fields <c>t</c> (the
/// event's time in microseconds since the Unix epoch) and <c>e</c> (the <see cref="SessionEvent"/> in Orleans' binary
/// serialization);</item>
/// <item><c>{ServiceId/events/p}/bounds</c>: a hash, <c>head</c> (the newest position given out) and <c>trimmed</c>
/// (the last position retention removed);</item>
/// <item><c>{ServiceId/events/p}/appended/{session id}/{sequence}</c>: the position of a recorded event, expiring
/// <see cref="DedupMargin"/> after Events:Retention.</item>
/// </list>
/// </summary>
/// <remarks>
/// <para>
/// An append is one Lua script, atomic on the server: an event already recorded answers with its position; otherwise
/// HINCRBY head, XADD at that id, SET the dedup key. Positions are therefore consecutive, and an entry is visible from
/// the moment its position exists. A read is XRANGE from <c>(after+1)-0</c>. A trim is a script too: it reads the
/// oldest entries (at most <see cref="TrimBatchSize"/> per run), stops at the first whose time is not before the limit,
/// removes the ones before with XTRIM MINID and records the last removed position; a trim runs as many scripts as it
/// needs.
/// </para>
/// <para>
/// The dedup keys outlive the events they name: the session grain repeats an event only while it is younger than
/// Events:Retention, and a key is set when its event is appended, at or after the event's time. Times are truncated to
/// the microsecond (a trim may keep an event less than a microsecond older than its limit). Failures of Redis (see
/// <see cref="RedisStorageFailure"/>) surface as <see cref="SessionStorageUnavailableException"/>; nothing is retried
/// here (a repeat after a lost answer is safe: it returns the recorded position).
/// </para>
/// </remarks>
public sealed class RedisSessionEventLog : ISessionEventLog
{
    /// <summary>The most entries one trim script removes.</summary>
    public const int TrimBatchSize = 1000;

    /// <summary>How much longer than Events:Retention a dedup key lives (clock differences between silos and Redis).</summary>
    public static readonly TimeSpan DedupMargin = TimeSpan.FromMinutes(10);

    private const long TicksPerMicrosecond = TimeSpan.TicksPerMicrosecond;
    private static readonly long EpochTicks = DateTimeOffset.UnixEpoch.UtcTicks;

    // KEYS: stream, bounds, dedup key. ARGV: time (µs), payload, dedup TTL (s).
    private const string AppendScript = """
        local recorded = redis.call('GET', KEYS[3])
        if recorded then
            return tonumber(recorded)
        end
        local position = redis.call('HINCRBY', KEYS[2], 'head', 1)
        local text = string.format('%d', position)
        redis.call('XADD', KEYS[1], text .. '-0', 't', ARGV[1], 'e', ARGV[2])
        redis.call('SET', KEYS[3], text, 'EX', ARGV[3])
        return position
        """;

    // KEYS: stream, bounds. ARGV: limit (µs), batch size. Removes the oldest entries before the limit, up to the first
    // that is not; returns how many.
    private const string TrimScript = """
        local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[2])
        local before = tonumber(ARGV[1])
        local last = nil
        local removed = 0
        for _, entry in ipairs(entries) do
            local fields = entry[2]
            local at = nil
            for i = 1, #fields, 2 do
                if fields[i] == 't' then
                    at = tonumber(fields[i + 1])
                    break
                end
            end
            if at == nil or at >= before then
                break
            end
            last = entry[1]
            removed = removed + 1
        end
        if removed > 0 then
            local position = tonumber(string.match(last, '^(%d+)'))
            redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-0', position + 1))
            local trimmed = tonumber(redis.call('HGET', KEYS[2], 'trimmed') or '0')
            if position > trimmed then
                redis.call('HSET', KEYS[2], 'trimmed', string.format('%d', position))
            end
        end
        return removed
        """;

    private static readonly RedisValue[] BoundsFields = ["trimmed", "head"];

    private readonly Func<Task<IConnectionMultiplexer>> _connection;
    private readonly string _serviceId;
    private readonly Serializer<SessionEvent> _serializer;
    private readonly RedisValue _dedupSeconds;

    /// <summary>Creates the log over a connected multiplexer, for one Orleans ServiceId.</summary>
    /// <param name="connection">The connection; not disposed by the log.</param>
    /// <param name="serviceId">The Orleans <c>ClusterOptions.ServiceId</c> whose events the log holds.</param>
    /// <param name="serializer">Orleans' serializer of the events (the silo's).</param>
    /// <param name="retention">Events:Retention: how long a recorded event is known as recorded (plus <see cref="DedupMargin"/>).</param>
    public RedisSessionEventLog(IConnectionMultiplexer connection, string serviceId, Serializer<SessionEvent> serializer, TimeSpan retention)
        : this(() => Task.FromResult(connection ?? throw new ArgumentNullException(nameof(connection))), serviceId, serializer, retention)
    {
        ArgumentNullException.ThrowIfNull(connection);
    }

    internal RedisSessionEventLog(Func<Task<IConnectionMultiplexer>> connection, string serviceId, Serializer<SessionEvent> serializer, TimeSpan retention)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(retention, TimeSpan.Zero);
        _connection = connection;
        _serviceId = serviceId;
        _serializer = serializer;
        _dedupSeconds = (long)Math.Ceiling((retention + DedupMargin).TotalSeconds);
    }

    /// <summary>The ServiceId the keys are scoped by.</summary>
    public string ServiceId => _serviceId;

    /// <summary>The stream of <paramref name="partition"/>: one entry per event, id <c>position-0</c>.</summary>
    public RedisKey StreamKey(int partition) => Prefix(partition) + "/stream";

    /// <summary>The hash of <paramref name="partition"/>: <c>head</c> and <c>trimmed</c>.</summary>
    public RedisKey BoundsKey(int partition) => Prefix(partition) + "/bounds";

    /// <summary>The key holding the position of event <paramref name="sequence"/> of <paramref name="sessionId"/> in <paramref name="partition"/>.</summary>
    public RedisKey AppendedKey(int partition, string sessionId, long sequence)
        => Prefix(partition) + "/appended/" + sessionId + "/" + sequence.ToString(CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public async ValueTask<long> AppendAsync(int partition, long sequence, SessionEvent sessionEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionEvent);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        RedisKey[] keys = [StreamKey(partition), BoundsKey(partition), AppendedKey(partition, sessionEvent.Session.SessionId, sequence)];
        RedisValue[] values = [ToMicroseconds(sessionEvent.At), _serializer.SerializeToArray(sessionEvent), _dedupSeconds];
        try
        {
            var database = await DatabaseAsync().ConfigureAwait(false);
            return (long)await database.ScriptEvaluateAsync(AppendScript, keys, values).ConfigureAwait(false);
        }
        catch (Exception exception) when (RedisStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LoggedSessionEvent>> ReadAsync(int partition, long after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        if (after == long.MaxValue)
        {
            return [];
        }
        try
        {
            var database = await DatabaseAsync().ConfigureAwait(false);
            var first = Math.Max(after, 0) + 1;
            var entries = await database.StreamRangeAsync(StreamKey(partition), first.ToString(CultureInfo.InvariantCulture) + "-0", "+", limit).ConfigureAwait(false);
            var result = new List<LoggedSessionEvent>(entries.Length);
            foreach (var entry in entries)
            {
                var position = ParsePosition(entry.Id);
                var payload = (byte[]?)entry["e"];
                var sessionEvent = payload is null ? null : _serializer.Deserialize(payload);
                result.Add(new LoggedSessionEvent(position, sessionEvent
                    ?? throw new InvalidDataException($"The entry {entry.Id} of {StreamKey(partition)} holds no event.")));
            }
            return result;
        }
        catch (Exception exception) when (RedisStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <inheritdoc />
    public async ValueTask<SessionEventLogBounds> BoundsAsync(int partition, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var database = await DatabaseAsync().ConfigureAwait(false);
            var bounds = await database.HashGetAsync(BoundsKey(partition), BoundsFields).ConfigureAwait(false);
            return new SessionEventLogBounds(bounds[0].IsNull ? 0 : (long)bounds[0], bounds[1].IsNull ? 0 : (long)bounds[1]);
        }
        catch (Exception exception) when (RedisStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> TrimAsync(int partition, DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        RedisKey[] keys = [StreamKey(partition), BoundsKey(partition)];
        RedisValue[] values = [ToMicroseconds(before), TrimBatchSize];
        try
        {
            var database = await DatabaseAsync().ConfigureAwait(false);
            var total = 0;
            int removed;
            do
            {
                removed = (int)await database.ScriptEvaluateAsync(TrimScript, keys, values).ConfigureAwait(false);
                total += removed;
            }
            while (removed == TrimBatchSize);
            return total;
        }
        catch (Exception exception) when (RedisStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <summary>Microseconds since the Unix epoch, truncated toward earlier instants (exact in a Lua number for |µs| &lt; 2^53).</summary>
    internal static long ToMicroseconds(DateTimeOffset instant)
    {
        var ticks = instant.UtcTicks - EpochTicks;
        return ticks >= 0 ? ticks / TicksPerMicrosecond : -((-ticks + TicksPerMicrosecond - 1) / TicksPerMicrosecond);
    }

    private static long ParsePosition(RedisValue id)
    {
        var text = id.ToString();
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        return long.Parse(text.AsSpan(0, dash < 0 ? text.Length : dash), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    private string Prefix(int partition) => "{" + _serviceId + "/events/" + partition.ToString(CultureInfo.InvariantCulture) + "}";

    private async Task<IDatabase> DatabaseAsync() => (await _connection().ConfigureAwait(false)).GetDatabase();
}
