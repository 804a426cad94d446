using System.Globalization;
using OrleansSessions.Grains.Storage;
using StackExchange.Redis;

namespace OrleansSessions.Redis;

/// <summary>
/// The session deadline index on Redis, scoped by the Orleans ServiceId like grain state. Per janitor partition p, two
/// keys in one hash slot (so that the pair also works on a Redis Cluster):
/// <list type="bullet">
/// <item><c>{ServiceId/deadlines/p}/due</c>: a sorted set, member = session id, score = deadline in microseconds
/// since the Unix epoch (exact in a double until the year 2255);</item>
/// <item><c>{ServiceId/deadlines/p}/users</c>: a hash, field = session id, value = user id.</item>
/// </list>
/// </summary>
/// <remarks>
/// Upsert (ZADD + HSET) and remove (ZREM + HDEL) are each one MULTI/EXEC transaction: both keys change or neither. No
/// write reads first, so none needs a Lua script. Read-due is ZRANGEBYSCORE -inf..now WITHSCORES LIMIT 0 n, which Redis
/// orders by score, then by member bytes (ordinal for the ASCII session ids), then HMGET of the user ids; a row removed
/// between the two reads (its session just ended) is left out, as if read after the remove. Deadlines are truncated to
/// the microsecond toward earlier instants, so a stored deadline stays a lower bound of the real one, as
/// <see cref="ISessionDeadlineIndex"/> requires. Failures of Redis (StackExchange.Redis' exceptions, see
/// <see cref="RedisStorageFailure"/>) surface as <see cref="OrleansSessions.Sessions.SessionStorageUnavailableException"/>;
/// nothing is retried here.
/// </remarks>
public sealed class RedisSessionDeadlineIndex : ISessionDeadlineIndex
{
    private const long TicksPerMicrosecond = TimeSpan.TicksPerMicrosecond;
    private static readonly long EpochTicks = DateTimeOffset.UnixEpoch.UtcTicks;

    private readonly Func<Task<IConnectionMultiplexer>> _connection;
    private readonly string _serviceId;

    /// <summary>Creates the index over a connected multiplexer, for one Orleans ServiceId.</summary>
    /// <param name="connection">The connection; not disposed by the index.</param>
    /// <param name="serviceId">The Orleans <c>ClusterOptions.ServiceId</c> whose sessions the index holds.</param>
    public RedisSessionDeadlineIndex(IConnectionMultiplexer connection, string serviceId)
        : this(() => Task.FromResult(connection ?? throw new ArgumentNullException(nameof(connection))), serviceId)
    {
        ArgumentNullException.ThrowIfNull(connection);
    }

    internal RedisSessionDeadlineIndex(Func<Task<IConnectionMultiplexer>> connection, string serviceId)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        _connection = connection;
        _serviceId = serviceId;
    }

    /// <summary>The ServiceId the keys are scoped by.</summary>
    public string ServiceId => _serviceId;

    /// <summary>The sorted set of <paramref name="partition"/>: session id -> deadline (µs since the Unix epoch).</summary>
    public RedisKey DueKey(int partition) => Prefix(partition) + "/due";

    /// <summary>The hash of <paramref name="partition"/>: session id -> user id.</summary>
    public RedisKey UsersKey(int partition) => Prefix(partition) + "/users";

    /// <inheritdoc />
    public async ValueTask UpsertAsync(string sessionId, string userId, DateTimeOffset deadline, int partition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var database = await DatabaseAsync().ConfigureAwait(false);
            var transaction = database.CreateTransaction();
            var add = transaction.SortedSetAddAsync(DueKey(partition), sessionId, ToScore(deadline));
            var user = transaction.HashSetAsync(UsersKey(partition), sessionId, userId);
            await ExecuteAsync(transaction, add, user).ConfigureAwait(false);
        }
        catch (Exception exception) when (RedisStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <inheritdoc />
    public async ValueTask RemoveAsync(string sessionId, int partition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var database = await DatabaseAsync().ConfigureAwait(false);
            var transaction = database.CreateTransaction();
            var remove = transaction.SortedSetRemoveAsync(DueKey(partition), sessionId);
            var user = transaction.HashDeleteAsync(UsersKey(partition), sessionId);
            await ExecuteAsync(transaction, remove, user).ConfigureAwait(false);
        }
        catch (Exception exception) when (RedisStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadDueAsync(int partition, DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
        => ReadCoreAsync(partition, double.NegativeInfinity, now, limit, cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadRangeAsync(int partition, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken = default)
        => from > to
            // StackExchange.Redis would read the reversed range.
            ? ValueTask.FromResult<IReadOnlyList<SessionDeadlineEntry>>([])
            : ReadCoreAsync(partition, ToScore(from), to, limit, cancellationToken);

    private async ValueTask<IReadOnlyList<SessionDeadlineEntry>> ReadCoreAsync(int partition, double from, DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var database = await DatabaseAsync().ConfigureAwait(false);
            // A row is due when its (truncated) deadline is at or before now; truncating now the same way keeps every
            // row whose real deadline is at or before now (floor is monotonic).
            var due = await database.SortedSetRangeByScoreWithScoresAsync(
                DueKey(partition), from, ToScore(now), Exclude.None, Order.Ascending, 0, limit).ConfigureAwait(false);
            if (due.Length == 0)
            {
                return [];
            }
            var users = await database.HashGetAsync(UsersKey(partition), due.Select(e => e.Element).ToArray()).ConfigureAwait(false);
            var result = new List<SessionDeadlineEntry>(due.Length);
            for (var i = 0; i < due.Length; i++)
            {
                if (users[i].IsNull)
                {
                    continue; // removed between the two reads: the session ended
                }
                result.Add(new SessionDeadlineEntry(due[i].Element.ToString(), users[i].ToString(), FromScore(due[i].Score)));
            }
            return result;
        }
        catch (Exception exception) when (RedisStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <summary>Microseconds since the Unix epoch, truncated toward earlier instants (exact in a double for |µs| &lt; 2^53).</summary>
    internal static double ToScore(DateTimeOffset instant)
    {
        var ticks = instant.UtcTicks - EpochTicks;
        return ticks >= 0 ? ticks / TicksPerMicrosecond : -((-ticks + TicksPerMicrosecond - 1) / TicksPerMicrosecond);
    }

    internal static DateTimeOffset FromScore(double score) => new(EpochTicks + ((long)score * TicksPerMicrosecond), TimeSpan.Zero);

    private string Prefix(int partition) => "{" + _serviceId + "/deadlines/" + partition.ToString(CultureInfo.InvariantCulture) + "}";

    private async Task<IDatabase> DatabaseAsync() => (await _connection().ConfigureAwait(false)).GetDatabase();

    private static async Task ExecuteAsync(ITransaction transaction, Task first, Task second)
    {
        bool committed;
        try
        {
            committed = await transaction.ExecuteAsync().ConfigureAwait(false);
        }
        finally
        {
            // Observe the queued commands whatever happened (they fail or are cancelled with the transaction).
            _ = first.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            _ = second.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
        if (!committed)
        {
            throw new RedisException("The deadline index transaction was not committed.");
        }
        await first.ConfigureAwait(false);
        await second.ConfigureAwait(false);
    }
}
