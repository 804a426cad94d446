using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 5: janitor sweep rate on PostgreSQL. N sessions are created (one user each), every activation is
/// force-collected (as if their silo had crashed), grain time moves past their deadline (a manual grain clock, so
/// no timer can beat the janitor), then RunJanitorsAsync sweeps every partition. Rate = N / time until every session
/// is expired and its end recorded in its user's history (the user rows' last update, by the database clock).
/// Baseline: one raw bulk UPDATE of the same N session rows in the same database.
/// </summary>
internal static class JanitorSweep
{
    public static async Task RunAsync(Args args)
    {
        var count = args.Int("sessions", 50_000);
        var server = args.Get("pg", "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres");
        var connectionString = await PostgresDatabase.RecreateAsync(server, "orleanssessions_bench_janitor", args.Int("pool", 20));
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var idle = TimeSpan.FromMinutes(30);

        await using var cluster = await new TestClusterBuilder(1)
            .UseGrainTimeProvider(clock)
            .ConfigureSilo(s => s.AddSessionGrains().UsePostgreSql(connectionString, "janitorbench"))
            .BuildAndStartAsync();
        var factory = cluster.Primary.Services.GetRequiredService<IGrainFactory>();
        var partitions = args.Int("partitions", 8);

        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, _) =>
            await factory.GetGrain<IUserSessionsGrain>("jan-" + i.ToString(CultureInfo.InvariantCulture)).CreateSessionAsync());
        var createSeconds = stopwatch.Elapsed.TotalSeconds;
        var collected = await cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        var remaining = cluster.ActivationCountOf<ISessionGrain>();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  created {count} sessions on PostgreSQL in {createSeconds:F1}s ({count / createSeconds:N0}/s); collected {collected} activations, {remaining} session activations left"));
        // A minute past their deadline, as orphans are when a periodic sweep finds them (past Janitor:BulkAfter).
        clock.Advance(idle + TimeSpan.FromMinutes(1));

        await using var data = NpgsqlDataSource.Create(connectionString);
        var dbStart = await ScalarAsync<DateTime>(data, "SELECT clock_timestamp()");
        const string transactionsSql = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()";
        await ExecuteAsync(data, "SELECT pg_stat_clear_snapshot()");
        var transactions = await ScalarAsync<long>(data, transactionsSql);
        var selfCpu = CpuTime.Self();
        var postgresCpu = CpuTime.OfAll("postgres");
        stopwatch.Restart();
        var expired = await JanitorStartup.RunJanitorsAsync(factory, partitions);
        var sweepSeconds = stopwatch.Elapsed.TotalSeconds;
        selfCpu = CpuTime.Self() - selfCpu;
        postgresCpu = CpuTime.OfAll("postgres") - postgresCpu;
        // Statistics reach the shared counters when a backend goes idle (at most once a second): wait for them.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        transactions = await ScalarAsync<long>(data, transactionsSql) - transactions;

        // One-way end notices may still be landing in user grains: wait until every user row was written after the
        // sweep started (or nothing changes for 5 s), then take the database's time of the last one.
        var recorded = 0L;
        var stable = Stopwatch.StartNew();
        while (stable.Elapsed < TimeSpan.FromSeconds(5))
        {
            var now = await ScalarAsync<long>(data, "SELECT count(*) FROM grain_state WHERE state_name = 'userSessions' AND updated_at >= $1", dbStart);
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
        var lastRecorded = await ScalarAsync<DateTime?>(data, "SELECT max(updated_at) FROM grain_state WHERE state_name = 'userSessions' AND updated_at >= $1", dbStart);
        var recordedSeconds = lastRecorded is { } last ? Math.Max(sweepSeconds, (last - dbStart).TotalSeconds) : double.NaN;
        var dueLeft = await ScalarAsync<long>(data, "SELECT count(*) FROM session_deadlines");
        var rate = expired / recordedSeconds;

        // Baseline: the same number of session rows changed by one statement.
        stopwatch.Restart();
        var updated = await ExecuteAsync(data, "UPDATE grain_state SET updated_at = now(), etag = nextval('etag_seq') WHERE state_name = 'session'");
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
                $"PostgreSQL 15 local; {expired}/{count} expired by RunJanitorsAsync ({partitions} partitions) in {sweepSeconds:F2}s (CPU per session during the sweep: silo {selfCpu.TotalMicroseconds / count:F1} us, PostgreSQL {postgresCpu.TotalMicroseconds / count:F1} us; {transactions} statements), {recorded}/{count} user histories recorded after {recordedSeconds:F2}s; {dueLeft} deadline rows left; baseline UPDATE of {updated} rows in {baselineSeconds:F3}s; load {load}"),
        });
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
