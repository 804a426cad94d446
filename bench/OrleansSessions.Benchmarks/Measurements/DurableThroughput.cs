using System.Diagnostics;
using System.Globalization;
using Npgsql;
using OrleansSessions.Benchmarks.Bare;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 8: durable touch and create on PostgreSQL (fsync on, Sessions:PersistTouches true as on the silo host's
/// postgres provider: every touch awaits WriteStateAsync before it answers). First the raw baselines, without Orleans,
/// in the same fresh database: N connections each running autocommit single-row <c>UPDATE</c>s over a table of as many
/// rows as there are sessions, then single-row <c>INSERT</c>s. Then an in-process silo on UseOrleansSessionsPostgreSql:
/// touch over the live sessions, the bare Orleans grain write through the same storage (floor), and create, each a
/// closed loop of the same number of outstanding calls after its own warm-up. Write transactions per call = the
/// transaction ids the database assigned during the loop (<c>pg_snapshot_xmax</c> delta, exact) / calls; the note also
/// gives the pg_stat_database <c>xact_commit</c> delta (read-only and write commits, flushed by busy backends about
/// once a second, so approximate).
/// </summary>
internal static class DurableThroughput
{
    private const string NextXidSql = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint";
    private const string CommitsSql = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";

    public static async Task RunAsync(Args args)
    {
        var sessions = args.Int("sessions", 10_000);
        var depth = args.Int("depth", 64);
        var duration = args.Seconds("seconds", 5);
        var warmup = args.Seconds("warmup-seconds", 2);
        var server = args.Get("pg", "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres");
        var pool = args.Int("pool", 30);
        var connectionString = await PostgresDatabase.RecreateAsync(server, "orleanssessions_bench_durable", pool);

        // Raw baselines first, on their own pool of `depth` connections, closed before the silo opens its own.
        var rawString = new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = depth + 2 }.ConnectionString;
        Measured rawUpdate, rawInsert;
        await using (var raw = NpgsqlDataSource.Create(rawString))
        await using (var rawStats = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 2 }.ConnectionString))
        {
            await ExecuteAsync(raw, "CREATE TABLE bench_raw_update (id integer PRIMARY KEY, touched timestamptz NOT NULL, version integer NOT NULL)");
            await ExecuteAsync(raw, $"INSERT INTO bench_raw_update SELECT g, now(), 1 FROM generate_series(0, {sessions - 1}) g");
            await ExecuteAsync(raw, "CREATE TABLE bench_raw_insert (id bigint PRIMARY KEY, created timestamptz NOT NULL, payload bytea NOT NULL)");
            // Connection l walks rows l, l + depth, l + 2 depth, ... (mod the row count): connections seldom meet on a row.
            rawUpdate = await RawLoopAsync(raw, rawStats, depth, warmup, duration,
                "UPDATE bench_raw_update SET touched = now(), version = version + 1 WHERE id = $1", (command, l, n) =>
                {
                    if (command.Parameters.Count == 0)
                    {
                        command.Parameters.Add(new NpgsqlParameter<int>());
                    }
                    ((NpgsqlParameter<int>)command.Parameters[0]).TypedValue = (int)((l + n * depth) % sessions);
                });
            // A new key per statement, and a payload about the size of a session's state.
            var payload = new byte[160];
            rawInsert = await RawLoopAsync(raw, rawStats, depth, warmup, duration,
                "INSERT INTO bench_raw_insert (id, created, payload) VALUES ($1, now(), $2)", (command, l, n) =>
                {
                    if (command.Parameters.Count == 0)
                    {
                        command.Parameters.Add(new NpgsqlParameter<long>());
                        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = payload });
                    }
                    ((NpgsqlParameter<long>)command.Parameters[0]).TypedValue = (long)l << 40 | n;
                });
        }
        NpgsqlConnection.ClearAllPools();

        await using var silo = await InProcessSilo.StartAsync(new Dictionary<string, string?> { ["Sessions:PersistTouches"] = "true" },
            postgres: connectionString, clusterId: "durablebench");
        var client = silo.Client;
        await using var stats = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 2 }.ConnectionString);

        var ids = new string[sessions];
        var seedRate = await Loops.ForEachAsync(sessions, depth, async i => ids[i] = (await client.GetGrain<IUserSessionsGrain>("durable-user-" + Key(i)).CreateSessionAsync()).SessionId);
        var touchGrains = ids.Select(id => client.GetGrain<ISessionGrain>(id)).ToArray();
        var touch = await MeasureAsync(stats, depth, sessions, warmup, duration, i => touchGrains[i].TouchAsync());

        var bare = Enumerable.Range(0, sessions).Select(i => client.GetGrain<IBareGrain>("durable-bare-" + Key(i))).ToArray();
        await Loops.ForEachAsync(sessions, depth, i => bare[i].WriteAsync()); // activated, row inserted once
        var write = await MeasureAsync(stats, depth, sessions, warmup, duration, i => new ValueTask<int>(bare[i].WriteAsync()));

        // One user per create: the loops walk keys far apart, so no user is created twice within the run.
        var createRound = 0;
        Func<int, ValueTask<SessionInfo>> create = i => new ValueTask<SessionInfo>(
            client.GetGrain<IUserSessionsGrain>(string.Create(CultureInfo.InvariantCulture, $"durable-create-{Volatile.Read(ref createRound)}-{i}")).CreateSessionAsync());
        await Loops.ClosedAsync(depth, 1_000_000, warmup, create, record: false);
        createRound = 1;
        var created = await MeasureAsync(stats, depth, 1_000_000, TimeSpan.Zero, duration, create);
        var activations = await silo.ActivationCountAsync();
        var load = Load.Average();

        var conditions = string.Create(CultureInfo.InvariantCulture,
            $"PostgreSQL 127.0.0.1 (fsync on), in-process silo on UseOrleansSessionsPostgreSql (pool {pool}), Sessions:PersistTouches=true, hosted client, {depth} outstanding calls, {duration.TotalSeconds}s after {warmup.TotalSeconds}s warm-up");
        ResultSink.Add(new BenchResult
        {
            Target = "durable.touch",
            Value = touch.Loop.Rate,
            Unit = "calls/s",
            Goal = ">= 10 x raw UPDATE loop",
            Baseline = $"raw single-row UPDATE loop, {depth} connections, autocommit",
            BaselineValue = rawUpdate.Rate,
            Pass = touch.Loop.Rate >= 10 * rawUpdate.Rate,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{conditions}; {sessions} live sessions (seeded at {seedRate:N0} creates/s); {touch.Loop.Rate / rawUpdate.Rate:F2} x the raw UPDATE loop, {touch.Loop.Rate / write.Loop.Rate:P0} of the bare grain write; {Describe(touch)}; raw UPDATE loop: {Describe(rawUpdate)}; load {load}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = "durable.create",
            Value = created.Loop.Rate,
            Unit = "sessions/s",
            Goal = ">= 10,000",
            Baseline = $"raw single-row INSERT loop, {depth} connections, autocommit",
            BaselineValue = rawInsert.Rate,
            Pass = created.Loop.Rate >= 10_000,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{conditions}; IUserSessionsGrain.CreateSessionAsync, one new user each (user and session activation and reads, deadline index upsert, session write, user write, created event); {activations} activations at the end; {Describe(created)}; raw INSERT loop: {Describe(rawInsert)}; load {load}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = "durable.bare.write",
            Value = write.Loop.Rate,
            Unit = "calls/s",
            Note = string.Create(CultureInfo.InvariantCulture,
                $"floor: IBareGrain.WriteAsync (sets one field, awaits WriteStateAsync on the grain storage \"OrleansSessions\" of the same silo) on {sessions} grains; {conditions}; {Describe(write)}"),
        });
    }

    internal sealed record Measured(LoopResult Loop, double Rate, double CpuMicrosPerCall, double PostgresCpuMicrosPerCall, double XidsPerCall, double CommitsPerCall);

    /// <summary>A closed loop through the silo, after its warm-up, with the database's transactions and the CPU it cost.</summary>
    internal static Task<Measured> MeasureAsync<T>(NpgsqlDataSource stats, int depth, int keys, TimeSpan warmup, TimeSpan duration, Func<int, ValueTask<T>> call)
        => MeasureAsync(stats, warmup, duration, (d, record) => Loops.ClosedAsync(depth, keys, d, call, record));

    internal static async Task<Measured> MeasureAsync(NpgsqlDataSource stats, TimeSpan warmup, TimeSpan duration, Func<TimeSpan, bool, Task<LoopResult>> run)
    {
        if (warmup > TimeSpan.Zero)
        {
            await run(warmup, false);
        }
        var before = await CountersAsync(stats);
        var loop = await run(duration, true);
        var after = await CountersAsync(stats);
        var calls = loop.Rate * duration.TotalSeconds;
        return new Measured(loop, loop.Rate,
            (after.Cpu - before.Cpu).TotalMicroseconds / calls, (after.PostgresCpu - before.PostgresCpu).TotalMicroseconds / calls,
            (after.Xid - before.Xid - 1) / calls, (after.Commits - before.Commits) / calls);
    }

    /// <summary>
    /// <paramref name="connections"/> connections, each running one prepared single-row statement at a time (autocommit:
    /// one transaction, one commit each) on its own keys (<paramref name="bind"/>(command, connection, n) sets the
    /// parameters of its n-th statement); warm-up, then the measured loop.
    /// </summary>
    internal static async Task<Measured> RawLoopAsync(NpgsqlDataSource raw, NpgsqlDataSource stats, int connections, TimeSpan warmup, TimeSpan duration, string sql, Action<NpgsqlCommand, int, long> bind)
    {
        var opened = new NpgsqlConnection[connections];
        var commands = new NpgsqlCommand[connections];
        var sequence = new long[connections];
        for (var l = 0; l < connections; l++)
        {
            opened[l] = await raw.OpenConnectionAsync();
            commands[l] = new NpgsqlCommand(sql, opened[l]);
            bind(commands[l], l, 0);
            await commands[l].PrepareAsync();
        }
        try
        {
            return await MeasureAsync(stats, warmup, duration, async (d, _) =>
            {
                var histogram = new LatencyHistogram();
                long total = 0;
                var stop = Stopwatch.StartNew();
                var loops = new Task[connections];
                for (var l = 0; l < connections; l++)
                {
                    var connection = l;
                    loops[l] = Task.Run(async () =>
                    {
                        var local = new LatencyHistogram();
                        var command = commands[connection];
                        long count = 0;
                        while (stop.Elapsed < d)
                        {
                            bind(command, connection, ++sequence[connection]);
                            var t0 = Stopwatch.GetTimestamp();
                            await command.ExecuteNonQueryAsync();
                            local.Record((long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds);
                            count++;
                        }
                        Interlocked.Add(ref total, count);
                        lock (histogram)
                        {
                            histogram.Add(local);
                        }
                    });
                }
                await Task.WhenAll(loops);
                return new LoopResult(total / stop.Elapsed.TotalSeconds, histogram, 0, double.NaN, double.NaN);
            });
        }
        finally
        {
            for (var l = 0; l < connections; l++)
            {
                await commands[l].DisposeAsync();
                await opened[l].DisposeAsync();
            }
        }
    }

    private static async Task<(TimeSpan Cpu, TimeSpan PostgresCpu, long Xid, long Commits)> CountersAsync(NpgsqlDataSource stats)
    {
        await ExecuteAsync(stats, "SELECT pg_stat_clear_snapshot()");
        var xid = await ScalarAsync<long>(stats, NextXidSql);
        var commits = await ScalarAsync<long>(stats, CommitsSql);
        return (CpuTime.Self(), CpuTime.OfAll("postgres"), xid, commits);
    }

    internal static string Describe(Measured m) => string.Create(CultureInfo.InvariantCulture,
        $"{m.Rate:N0}/s, p50 {m.Loop.Histogram.Milliseconds(0.5):F2} p99 {m.Loop.Histogram.Milliseconds(0.99):F2} max {m.Loop.Histogram.Milliseconds(1):F1} ms, {m.Loop.Errors} errors, CPU per call: bench process {m.CpuMicrosPerCall:F1} us, all postgres processes {m.PostgresCpuMicrosPerCall:F1} us; PostgreSQL write transactions per call {m.XidsPerCall:F3} (xid delta), xact_commit delta per call {m.CommitsPerCall:F3}");

    private static string Key(int i) => i.ToString(CultureInfo.InvariantCulture);

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource data, string sql)
    {
        await using var command = data.CreateCommand(sql);
        var result = await command.ExecuteScalarAsync();
        return result is DBNull or null ? default! : (T)result;
    }

    internal static async Task ExecuteAsync(NpgsqlDataSource data, string sql)
    {
        await using var command = data.CreateCommand(sql);
        command.CommandTimeout = 600;
        await command.ExecuteNonQueryAsync();
    }
}
