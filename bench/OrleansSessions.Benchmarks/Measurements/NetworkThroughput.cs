using System.Globalization;
using OrleansSessions.Benchmarks.Bare;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// Measurement 2: touch over the gateway (loopback TCP) from a client process (this one: UseOrleansClient +
/// UseOrleansSessions, one client) to a silo process, at 1, 64 and 1,024 outstanding calls. Each side gets the
/// machine in turn: (1) redis-benchmark EXPIRE with the same number of outstanding requests against the redis-server
/// that bench/run.sh started; (2) two silo processes side by side: the bare Orleans floor (this executable in
/// "bare-silo" mode, memory grain storage "OrleansSessions": no-op and one-field write) and the product's silo host
/// (OrleansSessions.Silo.dll, memory storage: touch), each with its own client in this process, measured in turn at
/// each depth with the same keys and loops; then latency of touch at a paced half of the peak and at a light rate.
/// Touch is the client library's: <see cref="SessionToucher"/>, which coalesces the touches that queue while its calls
/// are in flight into one call to the silo's touch grain (a lone touch goes as a plain session call); the plain
/// per-session grain call (one Orleans call per touch) is measured beside it as net.touch.direct.
/// </summary>
internal static class NetworkThroughput
{
    public static async Task RunAsync(Args args)
    {
        var depths = args.Get("depths", "1,64,1024").Split(',').Select(d => int.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        var duration = args.Seconds("seconds", 5);
        var warmup = args.Seconds("warmup-seconds", 2);
        var keys = args.Int("sessions", 10_000);
        var redisPort = args.Int("redis-port", 0);
        var redisSeconds = args.Double("redis-seconds", 4);
        var redisPid = args.Int("redis-pid", 0);
        var maxRedisConnections = args.Int("redis-max-connections", 64);

        // (1) Redis, while no silo runs.
        var redis = new Dictionary<int, RedisResult>();
        if (redisPort > 0)
        {
            await RedisBenchmark.PopulateAsync(redisPort, keys);
            foreach (var depth in depths)
            {
                var (connections, pipeline) = RedisShape(depth, maxRedisConnections);
                redis[depth] = await RedisBenchmark.RunExpireAsync(redisPort, connections, pipeline, redisSeconds, redisPid, keys);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  redis EXPIRE {connections} x {pipeline}: {redis[depth].Rps:N0}/s p50 {redis[depth].P50:F3} p99 {redis[depth].P99:F3} ms"));
            }
        }

        // (2) Both silo processes, started together and measured in turn at each depth (floor, product, floor with
        // storage), so that a change in the machine's load hits them alike; the idle one costs next to nothing.
        await using var bareSilo = SiloProcess.StartBareSilo("bare-silo", "netbare");
        await using var silo = SiloProcess.StartSiloHost("silo", ["--Storage:Provider=memory", "--Cluster:ClusterId=netbench"]);
        await Task.WhenAll(bareSilo.WaitReadyAsync(TimeSpan.FromSeconds(60)), silo.WaitReadyAsync(TimeSpan.FromSeconds(60)));
        await using var bareClient = await ClientHost.StartAsync([bareSilo.Gateway], "netbare");
        await using var sessionClient = await ClientHost.StartAsync([silo.Gateway], "netbench");
        var bare = Enumerable.Range(0, keys).Select(i => bareClient.Client.GetGrain<IBareGrain>("bare-" + i.ToString(CultureInfo.InvariantCulture))).ToArray();
        await Loops.ForEachAsync(keys, 64, i => bare[i].WriteAsync());
        Func<int, ValueTask<int>> noop = i => new ValueTask<int>(bare[i].PingAsync());
        Func<int, ValueTask<int>> write = i => new ValueTask<int>(bare[i].WriteAsync());
        var ids = new string[keys];
        await Loops.ForEachAsync(keys, 64, async i =>
            ids[i] = (await sessionClient.Client.GetGrain<IUserSessionsGrain>("net-user-" + i.ToString(CultureInfo.InvariantCulture)).CreateSessionAsync()).SessionId);
        var grains = ids.Select(id => sessionClient.Client.GetGrain<ISessionGrain>(id)).ToArray();
        var toucher = sessionClient.Toucher;
        Func<int, ValueTask<SessionInfo>> touch = i => new ValueTask<SessionInfo>(toucher.TouchAsync(ids[i]));
        Func<int, ValueTask<SessionInfo>> direct = i => grains[i].TouchAsync();

        var peak = 0.0;
        foreach (var depth in depths)
        {
            var floor = await MeasureAsync(bareSilo.Pid, depth, keys, warmup, duration, noop);
            var measured = await MeasureAsync(silo.Pid, depth, keys, warmup, duration, touch);
            var floorWrite = await MeasureAsync(bareSilo.Pid, depth, keys, warmup, duration, write);
            var plain = await MeasureAsync(silo.Pid, depth, keys, warmup, duration, direct);
            var result = measured.Result;
            peak = Math.Max(peak, result.Rate);
            var load = Load.Average();
            var r = redis.GetValueOrDefault(depth);
            var (connections, pipeline) = RedisShape(depth, maxRedisConnections);
            var d = depth.ToString(CultureInfo.InvariantCulture);
            var note = string.Create(CultureInfo.InvariantCulture,
                $"one client process (this one) over the gateway of the silo host process (memory storage), {d} outstanding calls over {keys} sessions, {duration.TotalSeconds}s after {warmup.TotalSeconds}s warm-up; touch (SessionToucher) {Describe(measured)}; {result.Rate / floor.Result.Rate:P0} of the bare no-op ({Describe(floor)}), {result.Rate / floorWrite.Result.Rate:P0} of the bare write ({Describe(floorWrite)}); redis-benchmark -c {connections} -P {pipeline} EXPIRE: {(r is null ? "not run" : string.Create(CultureInfo.InvariantCulture, $"{r.Rps:N0}/s p50 {r.P50:F3} p99 {r.P99:F3} ms, redis-server {r.ServerUsPerCall:F2} us CPU per request"))}; load {load}");
            ResultSink.Add(new BenchResult
            {
                Target = $"net.touch.depth{d}",
                Value = result.Rate,
                Unit = "calls/s",
                Goal = ">= 0.9 x bare no-op",
                Baseline = $"bare Orleans no-op over the gateway, {d} outstanding",
                BaselineValue = floor.Result.Rate,
                Pass = result.Rate >= 0.9 * floor.Result.Rate,
                Note = note,
            });
            ResultSink.Add(new BenchResult
            {
                Target = $"net.touch.direct.depth{d}",
                Value = plain.Result.Rate,
                Unit = "calls/s",
                Baseline = $"bare Orleans no-op over the gateway, {d} outstanding",
                BaselineValue = floor.Result.Rate,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"one ISessionGrain.TouchAsync call per touch (no coalescing), same silo, client and loop: {Describe(plain)}; {plain.Result.Rate / floor.Result.Rate:P0} of the bare no-op"),
            });
            ResultSink.Add(new BenchResult
            {
                Target = $"net.touch.depth{d}.vsRedis",
                Value = result.Rate,
                Unit = "calls/s",
                Goal = ">= redis EXPIRE",
                Baseline = $"redis-benchmark -c {connections} -P {pipeline} EXPIRE",
                BaselineValue = r?.Rps,
                Pass = r is not null && result.Rate >= r.Rps,
            });
            ResultSink.Add(new BenchResult
            {
                Target = $"net.bare.noop.depth{d}",
                Value = floor.Result.Rate,
                Unit = "calls/s",
                Baseline = $"redis-benchmark -c {connections} -P {pipeline} EXPIRE",
                BaselineValue = r?.Rps,
            });
            ResultSink.Add(new BenchResult
            {
                Target = $"net.bare.write.depth{d}",
                Value = floorWrite.Result.Rate,
                Unit = "calls/s",
                Baseline = $"redis-benchmark -c {connections} -P {pipeline} EXPIRE",
                BaselineValue = r?.Rps,
            });
            foreach (var (name, q) in new[] { ("p50", 0.5), ("p99", 0.99) })
            {
                ResultSink.Add(new BenchResult
                {
                    Target = $"net.touch.depth{d}.{name}",
                    Value = result.Histogram.Milliseconds(q),
                    Unit = "ms",
                    Baseline = $"bare no-op {name}",
                    BaselineValue = floor.Result.Histogram.Milliseconds(q),
                    Note = r is null ? null : string.Create(CultureInfo.InvariantCulture, $"redis-benchmark {name}: {(name == "p50" ? r.P50 : r.P99):F3} ms"),
                });
            }
        }

        // How much of the gap to the bare floor is the silo host rather than the touch: the session grain's lightest
        // call (IsActiveAsync: a clock read, a bool back) on the same silo host, client and sessions, at 64.
        var isActive = await MeasureAsync(silo.Pid, 64, keys, warmup, duration, i => grains[i].IsActiveAsync());
        var isActiveFloor = await MeasureAsync(bareSilo.Pid, 64, keys, warmup, duration, noop);
        ResultSink.Add(new BenchResult
        {
            Target = "net.isActive.depth64",
            Value = isActive.Result.Rate,
            Unit = "calls/s",
            Baseline = "bare Orleans no-op over the gateway, 64 outstanding, measured in turn",
            BaselineValue = isActiveFloor.Result.Rate,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"ISessionGrain.IsActiveAsync (one grain call per check, bool answer) on the silo host: {Describe(isActive)}; bare no-op: {Describe(isActiveFloor)}; load {Load.Average()}"),
        });

        var pacers = args.Int("pacers", 50);
        var target = peak / 2;
        await Loops.OpenAsync(pacers, keys, target, warmup, touch);
        var (achieved, issued, scheduled) = await Loops.OpenAsync(pacers, keys, target, duration, touch);
        // The floor: the bare no-op at the same paced rate, same pacers and client settings.
        await Loops.OpenAsync(pacers, keys, target, warmup, noop);
        var (bareAchieved, bareIssued, _) = await Loops.OpenAsync(pacers, keys, target, duration, noop);
        ResultSink.Add(new BenchResult
        {
            Target = "net.bare.halfPeak.p99",
            Value = bareIssued.Milliseconds(0.99),
            Unit = "ms",
            Note = string.Create(CultureInfo.InvariantCulture,
                $"floor: bare Orleans no-op paced at {target:N0}/s (the touch's half peak) by {pacers} pacers, achieved {bareAchieved:N0}/s; latency from send p50 {bareIssued.Milliseconds(0.5):F3} p99 {bareIssued.Milliseconds(0.99):F3} p99.9 {bareIssued.Milliseconds(0.999):F3} max {bareIssued.Milliseconds(1):F3} ms; load {Load.Average()}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = "net.touch.halfPeak.p99",
            Value = issued.Milliseconds(0.99),
            Unit = "ms",
            Goal = "<= 1",
            Baseline = "bare Orleans no-op at the same paced rate, p99",
            BaselineValue = bareIssued.Milliseconds(0.99),
            Pass = issued.Milliseconds(0.99) <= 1,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"paced at {target:N0}/s (half of peak {peak:N0}/s) by {pacers} pacers, achieved {achieved:N0}/s; latency from send: p50 {issued.Milliseconds(0.5):F3} p99 {issued.Milliseconds(0.99):F3} p99.9 {issued.Milliseconds(0.999):F3} max {issued.Milliseconds(1):F3} ms; from schedule (incl. ~1 ms pacer granularity): p50 {scheduled.Milliseconds(0.5):F3} p99 {scheduled.Milliseconds(0.99):F3} ms; load {Load.Average()}"),
        });
        var lowRate = args.Double("low-rate", 5_000);
        var (lowAchieved, low, _) = await Loops.OpenAsync(pacers, keys, lowRate, duration, touch);
        ResultSink.Add(new BenchResult
        {
            Target = "net.touch.lowRate.p99",
            Value = low.Milliseconds(0.99),
            Unit = "ms",
            Note = string.Create(CultureInfo.InvariantCulture,
                $"paced at {lowRate:N0}/s by {pacers} pacers, achieved {lowAchieved:N0}/s; latency from send p50 {low.Milliseconds(0.5):F3} p99 {low.Milliseconds(0.99):F3} p99.9 {low.Milliseconds(0.999):F3} max {low.Milliseconds(1):F3} ms; load {Load.Average()}"),
        });

        // The share of Orleans' dashboard (a call filter that profiles every incoming call): the same touch on a silo
        // host started with Observability:OrleansDashboard=false, measured in turn with the product silo at 64.
        await using var plainSilo = SiloProcess.StartSiloHost("silo-nodashboard", ["--Storage:Provider=memory", "--Cluster:ClusterId=netplain", "--Observability:OrleansDashboard=false"]);
        await plainSilo.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await using var plainClient = await ClientHost.StartAsync([plainSilo.Gateway], "netplain");
        var plainIds = new string[keys];
        await Loops.ForEachAsync(keys, 64, async i =>
            plainIds[i] = (await plainClient.Client.GetGrain<IUserSessionsGrain>("plain-user-" + i.ToString(CultureInfo.InvariantCulture)).CreateSessionAsync()).SessionId);
        var plainToucher = plainClient.Toucher;
        var withDashboard = await MeasureAsync(silo.Pid, 64, keys, warmup, duration, touch);
        var withoutDashboard = await MeasureAsync(plainSilo.Pid, 64, keys, warmup, duration, i => new ValueTask<SessionInfo>(plainToucher.TouchAsync(plainIds[i])));
        ResultSink.Add(new BenchResult
        {
            Target = "net.touch.depth64.withoutOrleansDashboard",
            Value = withoutDashboard.Result.Rate,
            Unit = "calls/s",
            Baseline = "net.touch at 64 on the silo host with Orleans' dashboard, measured in turn",
            BaselineValue = withDashboard.Result.Rate,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"silo host with Observability:OrleansDashboard=false: {Describe(withoutDashboard)}; with the dashboard: {Describe(withDashboard)}; load {Load.Average()}"),
        });
    }

    /// <summary>redis-benchmark with <paramref name="outstanding"/> requests in flight: min(outstanding, max) connections, the rest as pipeline depth.</summary>
    internal static (int Connections, int Pipeline) RedisShape(int outstanding, int maxConnections)
    {
        var connections = Math.Min(outstanding, maxConnections);
        return (connections, Math.Max(1, outstanding / connections));
    }

    internal static async Task<(LoopResult Result, double SiloUs, double ClientUs)> MeasureAsync<T>(int siloPid, int depth, int keys, TimeSpan warmup, TimeSpan duration, Func<int, ValueTask<T>> call)
    {
        await Loops.ClosedAsync(depth, keys, warmup, call, record: false);
        var siloCpu0 = CpuTime.Of(siloPid);
        var clientCpu0 = CpuTime.Self();
        var result = await Loops.ClosedAsync(depth, keys, duration, call);
        var calls = Math.Max(1, result.Rate * duration.TotalSeconds);
        return (result, (CpuTime.Of(siloPid) - siloCpu0).TotalMicroseconds / calls, (CpuTime.Self() - clientCpu0).TotalMicroseconds / calls);
    }

    internal static string Describe((LoopResult Result, double SiloUs, double ClientUs) m) => string.Create(CultureInfo.InvariantCulture,
        $"{m.Result.Rate:N0}/s, p50 {m.Result.Histogram.Milliseconds(0.5):F3} p99 {m.Result.Histogram.Milliseconds(0.99):F3} ms, {m.Result.Errors} errors, CPU per call silo {m.SiloUs:F1} us client {m.ClientUs:F1} us");
}
