using System.Diagnostics;
using System.Globalization;

namespace OrleansSessions.Benchmarks.Infrastructure;

internal sealed record RedisResult(double Rps, double P50, double P99, double Max)
{
    /// <summary>CPU time of redis-server per request during the run (0 when its pid is unknown).</summary>
    public double ServerUsPerCall { get; init; }
}

/// <summary>Runs redis-benchmark (EXPIRE on existing keys, as many as the sessions touched) and parses its CSV summary.</summary>
internal static class RedisBenchmark
{
    public static async Task PopulateAsync(int port, int keys)
    {
        // SET key:__rand_int__ with -r keys until (almost) every key exists, so EXPIRE works on live keys like touch does.
        await RunAsync(port, ["-c", "50", "-n", (keys * 20).ToString(CultureInfo.InvariantCulture), "-P", "64", "-r", keys.ToString(CultureInfo.InvariantCulture), "--csv", "SET", "key:__rand_int__", "v"]);
    }

    public static async Task<RedisResult> RunExpireAsync(int port, int connections, int depth, double seconds, int serverPid, int keys)
    {
        // Calibrate -n from a short run so each depth runs about `seconds`.
        var probe = Parse(await RunAsync(port, Args(connections, depth, 20_000, keys)));
        var n = Math.Max(20_000, (int)Math.Min(int.MaxValue / 2, probe.Rps * seconds));
        var cpu0 = serverPid > 0 ? CpuTime.Of(serverPid) : TimeSpan.Zero;
        var result = Parse(await RunAsync(port, Args(connections, depth, n, keys)));
        return serverPid > 0 ? result with { ServerUsPerCall = (CpuTime.Of(serverPid) - cpu0).TotalMicroseconds / n } : result;
    }

    private static string[] Args(int connections, int depth, int n, int keys) =>
    [
        "-c", connections.ToString(CultureInfo.InvariantCulture),
        "-n", n.ToString(CultureInfo.InvariantCulture),
        "-P", depth.ToString(CultureInfo.InvariantCulture),
        "-r", keys.ToString(CultureInfo.InvariantCulture),
        "--csv",
        "EXPIRE", "key:__rand_int__", "100",
    ];

    private static async Task<string> RunAsync(int port, string[] args)
    {
        var info = new ProcessStartInfo("redis-benchmark") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-h");
        info.ArgumentList.Add("127.0.0.1");
        info.ArgumentList.Add("-p");
        info.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException("redis-benchmark did not start");
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-benchmark failed ({process.ExitCode}): {error}{output}");
        }
        return output;
    }

    /// <summary>CSV: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms".</summary>
    private static RedisResult Parse(string csv)
    {
        var line = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last(l => !l.StartsWith("\"test\"", StringComparison.Ordinal));
        var fields = line.Split("\",\"").Select(f => f.Trim('"')).ToArray();
        double F(int i) => double.Parse(fields[i], CultureInfo.InvariantCulture);
        return new RedisResult(F(1), F(4), F(6), F(7));
    }
}
