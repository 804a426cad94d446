using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>A PostgreSQL restart under traffic, and garbage on the silo's TCP ports.</summary>
[Collection(ProcessCollection.Name)]
public sealed class RobustnessTests(ITestOutputHelper output)
{
    /// <summary>
    /// The silos run on a private PostgreSQL 15 instance (initdb in a temporary folder, its own port) so that restarting it
    /// (pg_ctl restart -m fast: every connection is terminated, the server is down for a moment) does not disturb anybody
    /// else's use of the machine's shared cluster.
    /// </summary>
    [Fact]
    public async Task A_PostgreSQL_restart_under_traffic_is_survived_and_the_silos_serve_again()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        await using var cluster = await ProcessCluster.StartAsync("pg", 2, new Dictionary<string, string> { ["Sessions:IdleTimeout"] = "00:10:00" }, postgres.ConnectionString);
        var client = cluster.Client;
        var sessions = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            sessions.Add((await client.GetGrain<IUserSessionsGrain>($"{cluster.ClusterId}-u{i}").CreateSessionAsync()).SessionId);
        }
        var acknowledged = new ConcurrentDictionary<string, SessionInfo>(StringComparer.Ordinal);
        long ok = 0, failed = 0;
        var unexpected = new ConcurrentBag<Exception>();
        using var stop = new CancellationTokenSource();
        var traffic = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = w; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var touched = await client.GetGrain<ISessionGrain>(sessions[i % sessions.Count]).TouchAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
                    acknowledged.AddOrUpdate(touched.SessionId, touched, (_, old) => touched.LastActivity > old.LastActivity ? touched : old);
                    Interlocked.Increment(ref ok);
                }
                catch (Exception ex) when (Calls.IsTransient(ex))
                {
                    Interlocked.Increment(ref failed);
                    await Task.Delay(20);
                }
                catch (Exception ex)
                {
                    unexpected.Add(ex);
                    await Task.Delay(20);
                }
            }
        })).ToArray();
        try
        {
            await Wait.UntilAsync(() => Task.FromResult(Interlocked.Read(ref ok) > 200), TimeSpan.FromSeconds(30), "traffic flowing");
            var restart = Stopwatch.StartNew();
            await postgres.RestartAsync();
            output.WriteLine($"PostgreSQL restarted in {restart.Elapsed.TotalSeconds:F2} s");
            var okAfterRestart = Interlocked.Read(ref ok);
            await Wait.UntilAsync(() => Task.FromResult(Interlocked.Read(ref ok) > okAfterRestart + 500), TimeSpan.FromSeconds(60),
                () => $"traffic resumed after the restart ({Interlocked.Read(ref ok) - okAfterRestart} since)\n{cluster.Logs()}");
            output.WriteLine($"500 touches acknowledged again {restart.Elapsed.TotalSeconds:F2} s after the restart began");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(traffic);
        }
        output.WriteLine($"{ok} touches acknowledged, {failed} transient failures, {unexpected.Count} others");
        // A storage outage must reach callers as a classified, transient failure (SessionFailureKind.Unavailable, HTTP 503).
        Assert.True(unexpected.IsEmpty, "unclassified failures during the restart: " + string.Join("\n", unexpected.Take(10).Select(e => $"{e.GetType().FullName}: {e.Message}")));
        Assert.All(cluster.Silos, s => Assert.False(s.HasExited, s.Tail()));
        await cluster.WaitForActiveSilosAsync(2, TimeSpan.FromSeconds(30));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var silo in cluster.Silos)
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(silo.Url("/healthz"))).StatusCode);
        }
        foreach (var expected in acknowledged.Values)
        {
            var actual = await Calls.RetryAsync(() => client.GetGrain<ISessionGrain>(expected.SessionId).GetAsync().AsTask(), TimeSpan.FromSeconds(20));
            Assert.True(actual.LastActivity >= expected.LastActivity, $"{expected.SessionId}: acknowledged {expected.LastActivity:O}, stored {actual.LastActivity:O}");
        }
        var fresh = await client.GetGrain<IUserSessionsGrain>($"{cluster.ClusterId}-after").CreateSessionAsync();
        Assert.True(await client.GetGrain<ISessionGrain>(fresh.SessionId).IsActiveAsync());
    }

    [Fact]
    public async Task Random_bytes_at_the_gateway_and_silo_ports_are_disconnected_and_the_silo_keeps_serving()
    {
        await using var cluster = await ProcessCluster.StartAsync("bytes", 1);
        var silo = cluster.Silos[0];
        var random = new Random(4242);
        var payloads = new List<byte[]>();
        for (var i = 0; i < 12; i++)
        {
            var bytes = new byte[random.Next(1, 16_384)];
            random.NextBytes(bytes);
            switch (i % 4)
            {
                case 0:
                    // A length prefix far beyond any frame limit.
                    BitConverter.TryWriteBytes(bytes.AsSpan(0, Math.Min(4, bytes.Length)), 50_000_000);
                    break;
                case 1:
                    // A plausible small preamble length followed by garbage.
                    BitConverter.TryWriteBytes(bytes.AsSpan(0, Math.Min(4, bytes.Length)), 16);
                    break;
                case 2:
                    bytes = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray();
                    break;
            }
            payloads.Add(bytes);
        }
        payloads.Add(new byte[64 * 1024]); // zeros
        payloads.Add(Enumerable.Repeat((byte)0xFF, 64 * 1024).ToArray());

        var results = new ConcurrentBag<string>();
        var attempts = new[] { silo.GatewayPort, silo.SiloPort }.SelectMany(port => payloads.Select(p => (port, p))).ToList();
        await Task.WhenAll(attempts.Select(async a => results.Add($"{(a.port == silo.GatewayPort ? "gateway" : "silo")}:{await SendGarbageAsync(a.port, a.p)}")));
        var summary = string.Join(", ", results.GroupBy(r => r).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} x{g.Count()}"));
        output.WriteLine($"{attempts.Count} garbage connections: {summary}");
        Assert.DoesNotContain(results, r => r.EndsWith(":open", StringComparison.Ordinal));

        Assert.False(silo.HasExited, silo.Tail());
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(silo.Url("/healthz"))).StatusCode);
        var session = await Calls.RetryAsync(() => cluster.Client.GetGrain<IUserSessionsGrain>($"{cluster.ClusterId}-u").CreateSessionAsync(), TimeSpan.FromSeconds(10));
        Assert.True(await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).IsActiveAsync());
        Assert.True((await cluster.Client.GetGrain<ISessionGrain>(session.SessionId).TouchAsync()).LastActivity >= session.LastActivity);
    }

    /// <summary>
    /// Sends <paramref name="bytes"/> on a fresh connection and reads until the silo closes it: "closed" when it does
    /// within 10 s, "closed-after-half-close" when it only does once this side has finished sending, "open" otherwise.
    /// </summary>
    private static async Task<string> SendGarbageAsync(int port, byte[] bytes)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        try
        {
            await socket.SendAsync(bytes);
        }
        catch (SocketException)
        {
            return "closed"; // reset while sending
        }
        if (await ClosedWithinAsync(socket, TimeSpan.FromSeconds(10)))
        {
            return "closed";
        }
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            return "closed";
        }
        return await ClosedWithinAsync(socket, TimeSpan.FromSeconds(5)) ? "closed-after-half-close" : "open";
    }

    private static async Task<bool> ClosedWithinAsync(Socket socket, TimeSpan timeout)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>A throw-away PostgreSQL instance (the machine's PostgreSQL binaries, initdb in a temporary folder, a free port, trust auth).</summary>
internal sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _directory;
    private readonly int _port;

    private PrivatePostgres(string directory, int port)
    {
        _directory = directory;
        _port = port;
    }

    public string ConnectionString => $"Host=127.0.0.1;Port={_port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Password=postgres;Database=postgres";

    private static string BinDirectory
    {
        get
        {
            var root = "/usr/lib/postgresql";
            var version = Directory.Exists(root) ? Directory.GetDirectories(root).Select(Path.GetFileName).OrderByDescending(v => v, StringComparer.Ordinal).FirstOrDefault() : null;
            return version is null
                ? throw new InvalidOperationException("No PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql-15).")
                : Path.Combine(root, version, "bin");
        }
    }

    public static async Task<PrivatePostgres> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "orleanssessions-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        var postgres = new PrivatePostgres(directory, Ports.Free());
        try
        {
            if (Environment.UserName == "root")
            {
                await RunAsync("chown", ["postgres:postgres", directory], asPostgres: false);
            }
            await RunAsync(Path.Combine(BinDirectory, "initdb"), ["-D", Path.Combine(directory, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
            await RunAsync(Path.Combine(BinDirectory, "pg_ctl"), ["-D", Path.Combine(directory, "data"), "-l", Path.Combine(directory, "log"), "-w", "-t", "30",
                "-o", $"-p {postgres._port.ToString(CultureInfo.InvariantCulture)} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start"]);
            return postgres;
        }
        catch
        {
            await postgres.DisposeAsync();
            throw;
        }
    }

    /// <summary>pg_ctl restart -m fast: terminates every connection, shuts down and starts again.</summary>
    public Task RestartAsync()
        => RunAsync(Path.Combine(BinDirectory, "pg_ctl"), ["-D", Path.Combine(_directory, "data"), "-m", "fast", "-w", "-t", "30", "restart"]);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(_directory, "data", "postmaster.pid")))
            {
                await RunAsync(Path.Combine(BinDirectory, "pg_ctl"), ["-D", Path.Combine(_directory, "data"), "-m", "immediate", "-w", "-t", "30", "stop"]);
            }
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static async Task RunAsync(string file, IEnumerable<string> arguments, bool asPostgres = true)
    {
        var info = new ProcessStartInfo(asPostgres && Environment.UserName == "root" ? "runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres && Environment.UserName == "root")
        {
            info.ArgumentList.Add("-u");
            info.ArgumentList.Add("postgres");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(file);
        }
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start " + file);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}: {await stdout} {await stderr}");
        }
    }
}
