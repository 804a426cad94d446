using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Core.Internal;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Hosting;
using OrleansSessions.PostgreSql;
using OrleansSessions.Redis;
using OrleansSessions.Sessions;
using StackExchange.Redis;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 5: janitor sweep rate on PostgreSQL, real time. An in-process silo on UseOrleansSessionsPostgreSql
/// (fresh database) with a short Sessions:IdleTimeout; N sessions are created (one user each), each session
/// activation deactivated right after its create (IGrainManagementExtension.DeactivateOnIdle: its expiry timer goes
/// with it, as when its silo dies), and the run waits until every deadline has passed. Then Janitors.RunAsync sweeps every partition: each
/// janitor reads its due rows from the deadline index and asks each session grain to expire itself
/// (activation, state read, end written, user notified one-way, event, index row removed, deactivation). Rate = N /
/// time until every session is expired and every user row rewritten (its end recorded in the history), by the
/// database clock. Baseline: one raw bulk UPDATE of the same N session rows in the same database. With --redis the
/// same sweep runs on UseOrleansSessionsRedis (see <see cref="RunRedisAsync"/>).
/// </summary>
internal static class JanitorSweep
{
    public static async Task RunAsync(Args args)
    {
        if (args.Get("redis") is { Length: > 0 } redis)
        {
            await RunRedisAsync(args, redis);
            return;
        }
        var count = args.Int("sessions", 20_000);
        var server = args.Get("pg", "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres");
        var idle = args.Seconds("idle-seconds", 5);
        var partitions = args.Int("partitions", 8);
        var connectionString = await PostgresDatabase.RecreateAsync(server, "orleanssessions_bench_janitor", args.Int("pool", 20));

        await using var silo = await InProcessSilo.StartAsync(new Dictionary<string, string?>
        {
            ["Sessions:IdleTimeout"] = idle.ToString("c", CultureInfo.InvariantCulture),
            ["Sessions:WarningBefore"] = "00:00:00",
            ["Janitor:Partitions"] = partitions.ToString(CultureInfo.InvariantCulture),
        }, postgres: connectionString, clusterId: "janitorbench");
        var client = silo.Client;
        var metrics = silo.Services.GetRequiredService<SessionMetrics>();

        var ids = new string[count];
        var stopwatch = Stopwatch.StartNew();
        // Each session loses its activation (and so its expiry timer) right after its create, long before its deadline.
        var createRate = await Loops.ForEachAsync(count, 128, async i =>
        {
            ids[i] = (await client.GetGrain<IUserSessionsGrain>("jan-" + i.ToString(CultureInfo.InvariantCulture)).CreateSessionAsync()).SessionId;
            await client.GetGrain<ISessionGrain>(ids[i]).AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        });
        var lastDeadline = DateTimeOffset.UtcNow + idle;
        var createSeconds = stopwatch.Elapsed.TotalSeconds;
        var wait = Stopwatch.StartNew();
        while (metrics.ActiveSessionActivations > 0 && wait.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
        }
        var remaining = metrics.ActiveSessionActivations;
        var endedBefore = metrics.Ended;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  created {count} sessions on PostgreSQL in {createSeconds:F1}s ({createRate:N0}/s); {remaining} session activations left after DeactivateOnIdle; {endedBefore} ended before the sweep; waiting for the deadlines"));
        var untilDue = lastDeadline - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1);
        if (untilDue > TimeSpan.Zero)
        {
            await Task.Delay(untilDue);
        }

        await using var data = NpgsqlDataSource.Create(connectionString);
        var due = await ScalarAsync<long>(data, $"SELECT count(*) FROM {PostgreSqlSchema.DeadlinesTable} WHERE deadline <= now()");
        var dbStart = await ScalarAsync<DateTime>(data, "SELECT clock_timestamp()");
        const string transactionsSql = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()";
        await ExecuteAsync(data, "SELECT pg_stat_clear_snapshot()");
        var transactions = await ScalarAsync<long>(data, transactionsSql);
        var selfCpu = CpuTime.Self();
        var postgresCpu = CpuTime.OfAll("postgres");
        stopwatch.Restart();
        var expired = await Janitors.RunAsync(client, partitions);
        var sweepSeconds = stopwatch.Elapsed.TotalSeconds;
        selfCpu = CpuTime.Self() - selfCpu;
        postgresCpu = CpuTime.OfAll("postgres") - postgresCpu;
        // Statistics reach the shared counters when a backend goes idle (at most once a second): wait for them.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        transactions = await ScalarAsync<long>(data, transactionsSql) - transactions;

        // One-way end notices may still be landing in user grains: wait until every user row was written after the
        // sweep started (or nothing changes for 5 s), then take the database's time of the last one.
        const string userRows = $"FROM {PostgreSqlSchema.StateTable} WHERE state_name = 'user-sessions' AND modified_on >= $1";
        var recorded = 0L;
        var stable = Stopwatch.StartNew();
        while (stable.Elapsed < TimeSpan.FromSeconds(5))
        {
            var now = await ScalarAsync<long>(data, "SELECT count(*) " + userRows, dbStart);
            if (now != recorded)
            {
                recorded = now;
                stable.Restart();
            }
            if (recorded >= count)
            {
                break;
            }
            await Task.Delay(100);
        }
        var lastRecorded = await ScalarAsync<DateTime?>(data, "SELECT max(modified_on) " + userRows, dbStart);
        var recordedSeconds = lastRecorded is { } last ? Math.Max(sweepSeconds, (last - dbStart).TotalSeconds) : double.NaN;
        var dueLeft = await ScalarAsync<long>(data, $"SELECT count(*) FROM {PostgreSqlSchema.DeadlinesTable}");
        var rate = expired / recordedSeconds;

        // Baseline: the same number of session rows changed by one statement.
        stopwatch.Restart();
        var updated = await ExecuteAsync(data, $"UPDATE {PostgreSqlSchema.StateTable} SET modified_on = now(), version = version + 1 WHERE state_name = 'session'");
        var baselineSeconds = stopwatch.Elapsed.TotalSeconds;
        var baselineRate = updated / baselineSeconds;

        var load = Load.Average();
        ResultSink.Add(new BenchResult
        {
            Target = $"janitor.sweepRate@{count}",
            Value = rate,
            Unit = "sessions/s",
            Goal = ">= 100,000",
            Baseline = "raw bulk UPDATE of the session rows",
            BaselineValue = baselineRate,
            Pass = expired == count && recorded >= count && rate >= 100_000,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"PostgreSQL local, in-process silo (PostgreSqlGrainStorage with group commit, PostgreSQL deadline index, pool {args.Int("pool", 20)}); {count} sessions created at {createRate:N0}/s (IdleTimeout {idle.TotalSeconds}s; each session deactivated right after its create), {remaining} activations left after DeactivateOnIdle, {endedBefore} ended before the sweep, {due} deadline rows due; {expired}/{count} expired by Janitors.RunAsync ({partitions} partitions, one ExpireIfDue grain call per due row) in {sweepSeconds:F2}s (CPU per session during the sweep: silo {selfCpu.TotalMicroseconds / count:F1} us, PostgreSQL {postgresCpu.TotalMicroseconds / count:F1} us; {transactions} transactions), {recorded}/{count} user rows rewritten after {recordedSeconds:F2}s; {dueLeft} deadline rows left; baseline UPDATE of {updated} rows in {baselineSeconds:F3}s; load {load}"),
        });
    }

    /// <summary>
    /// The same sweep on UseOrleansSessionsRedis (the bench's durable redis-server, database emptied first). The end of
    /// the run is when every user state key has a new etag (polled every 100 ms, pipelined HGET). Baseline: one
    /// connection, pipelined ZREM + HSET per session over the same N session ids (the deadline index removal and a
    /// state write, without Orleans).
    /// </summary>
    private static async Task RunRedisAsync(Args args, string redis)
    {
        var count = args.Int("sessions", 20_000);
        var idle = args.Seconds("idle-seconds", 5);
        var partitions = args.Int("partitions", 8);
        var redisPid = args.Int("redis-pid", 0);
        using var connection = await RedisKeySpace.FlushAsync(redis);
        var db = connection.GetDatabase();

        await using var silo = await InProcessSilo.StartAsync(new Dictionary<string, string?>
        {
            ["Sessions:IdleTimeout"] = idle.ToString("c", CultureInfo.InvariantCulture),
            ["Sessions:WarningBefore"] = "00:00:00",
            ["Janitor:Partitions"] = partitions.ToString(CultureInfo.InvariantCulture),
        }, clusterId: "janitorbench", redis: redis);
        var client = silo.Client;
        var metrics = silo.Services.GetRequiredService<SessionMetrics>();

        var ids = new string[count];
        var stopwatch = Stopwatch.StartNew();
        var createRate = await Loops.ForEachAsync(count, 128, async i =>
        {
            ids[i] = (await client.GetGrain<IUserSessionsGrain>("jan-" + i.ToString(CultureInfo.InvariantCulture)).CreateSessionAsync()).SessionId;
            await client.GetGrain<ISessionGrain>(ids[i]).AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        });
        var lastDeadline = DateTimeOffset.UtcNow + idle;
        var createSeconds = stopwatch.Elapsed.TotalSeconds;
        var wait = Stopwatch.StartNew();
        while (metrics.ActiveSessionActivations > 0 && wait.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
        }
        var remaining = metrics.ActiveSessionActivations;
        var endedBefore = metrics.Ended;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  created {count} sessions on Redis in {createSeconds:F1}s ({createRate:N0}/s); {remaining} session activations left after DeactivateOnIdle; {endedBefore} ended before the sweep; waiting for the deadlines"));
        var untilDue = lastDeadline - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1);
        if (untilDue > TimeSpan.Zero)
        {
            await Task.Delay(untilDue);
        }

        var index = new RedisSessionDeadlineIndex(connection, InProcessSilo.ServiceId);
        var nowScore = (double)((DateTimeOffset.UtcNow.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond); // the index's score: µs since the Unix epoch
        var due = 0L;
        for (var p = 0; p < partitions; p++)
        {
            due += await db.SortedSetLengthAsync(index.DueKey(p), double.NegativeInfinity, nowScore);
        }
        // The user state keys (Orleans Redis grain storage: a hash with an etag field) and their etags before the sweep.
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        var userKeys = new List<RedisKey>();
        await foreach (var key in server.KeysAsync(db.Database, "*user-sessions*", 1000))
        {
            userKeys.Add(key);
        }
        var etagsBefore = await EtagsAsync(db, userKeys);
        var commands = await RedisKeySpace.CommandsAsync(connection);
        var selfCpu = CpuTime.Self();
        var redisCpu = redisPid > 0 ? CpuTime.Of(redisPid) : TimeSpan.Zero;
        stopwatch.Restart();
        var expired = await Janitors.RunAsync(client, partitions);
        var sweepSeconds = stopwatch.Elapsed.TotalSeconds;
        selfCpu = CpuTime.Self() - selfCpu;
        redisCpu = (redisPid > 0 ? CpuTime.Of(redisPid) : TimeSpan.Zero) - redisCpu;
        commands = await RedisKeySpace.CommandsAsync(connection) - commands;

        // One-way end notices may still be landing in user grains: wait until every user state key has a new etag (or
        // nothing changes for 5 s).
        var recorded = 0L;
        var recordedSeconds = double.NaN;
        var stable = Stopwatch.StartNew();
        while (stable.Elapsed < TimeSpan.FromSeconds(5))
        {
            var etags = await EtagsAsync(db, userKeys);
            var changed = etags.Where((e, i) => e != etagsBefore[i]).LongCount();
            if (changed != recorded)
            {
                recorded = changed;
                recordedSeconds = stopwatch.Elapsed.TotalSeconds;
                stable.Restart();
            }
            if (recorded >= count)
            {
                break;
            }
            await Task.Delay(100);
        }
        recordedSeconds = Math.Max(sweepSeconds, recordedSeconds);
        var dueLeft = 0L;
        for (var p = 0; p < partitions; p++)
        {
            dueLeft += await db.SortedSetLengthAsync(index.DueKey(p));
        }
        var rate = expired / recordedSeconds;

        // Baseline: per session id, the deadline removal and one state write, raw: ZREM + HSET pipelined on one connection.
        var baselineDue = (RedisKey)"bench/baseline/due";
        var baselineState = (RedisKey)"bench/baseline/state";
        await db.SortedSetAddAsync(baselineDue, ids.Select((id, i) => new SortedSetEntry(id, i)).ToArray());
        stopwatch.Restart();
        var pending = new List<Task>(2 * count);
        var batch = db.CreateBatch();
        foreach (var id in ids)
        {
            pending.Add(batch.SortedSetRemoveAsync(baselineDue, id));
            pending.Add(batch.HashSetAsync(baselineState, id, "ended"));
        }
        batch.Execute();
        await Task.WhenAll(pending);
        var baselineSeconds = stopwatch.Elapsed.TotalSeconds;
        var baselineRate = count / baselineSeconds;
        var leftInBaseline = await db.SortedSetLengthAsync(baselineDue);

        var load = Load.Average();
        ResultSink.Add(new BenchResult
        {
            Target = $"janitor.redis.sweepRate@{count}",
            Value = rate,
            Unit = "sessions/s",
            Goal = ">= 100,000",
            Baseline = "raw pipelined ZREM + HSET per session (StackExchange.Redis, one connection)",
            BaselineValue = baselineRate,
            Pass = expired == count && recorded >= count && rate >= 100_000,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"Redis local (redis-server of the bench, appendonly yes, appendfsync always), in-process silo (UseOrleansSessionsRedis: Orleans Redis grain storage, Redis deadline index); {count} sessions created at {createRate:N0}/s (IdleTimeout {idle.TotalSeconds}s; each session deactivated right after its create), {remaining} activations left after DeactivateOnIdle, {endedBefore} ended before the sweep, {due} deadline entries due; {expired}/{count} expired by Janitors.RunAsync ({partitions} partitions, one ExpireIfDue grain call per due entry) in {sweepSeconds:F2}s (CPU per session during the sweep: silo {selfCpu.TotalMicroseconds / count:F1} us, redis-server {redisCpu.TotalMicroseconds / count:F1} us; {commands} Redis commands), {recorded}/{userKeys.Count} user state keys rewritten after {recordedSeconds:F2}s (polled every 100 ms); {dueLeft} deadline entries left; baseline {2 * count} pipelined commands (ZREM + HSET for each of the {count} session ids) in {baselineSeconds:F3}s, {leftInBaseline} left; load {load}"),
        });
    }

    private static async Task<RedisValue[]> EtagsAsync(IDatabase db, List<RedisKey> keys)
    {
        var batch = db.CreateBatch();
        var reads = keys.Select(k => batch.HashGetAsync(k, "etag")).ToArray();
        batch.Execute();
        return await Task.WhenAll(reads);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource data, string sql, params object[] parameters)
    {
        await using var command = data.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }
        var result = await command.ExecuteScalarAsync();
        return result is DBNull or null ? default! : (T)result;
    }

    private static async Task<int> ExecuteAsync(NpgsqlDataSource data, string sql)
    {
        await using var command = data.CreateCommand(sql);
        command.CommandTimeout = 600;
        return await command.ExecuteNonQueryAsync();
    }
}
