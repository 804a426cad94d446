using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace OrleansSessions.Cluster.Tests;

/// <summary>PING over a raw socket: is a Redis server at "host:port" answering (and done loading its data)?</summary>
internal static class RedisPing
{
    public static async Task PingAsync(string endpoint, TimeSpan? timeout = null)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = colon < 0 ? endpoint : endpoint[..colon];
        var port = colon < 0 ? 6379 : int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(3));
        using var client = new TcpClient();
        await client.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
        var stream = client.GetStream();
        await stream.WriteAsync("PING\r\n"u8.ToArray(), cts.Token).ConfigureAwait(false);
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer, cts.Token).ConfigureAwait(false);
        var reply = Encoding.ASCII.GetString(buffer, 0, read);
        if (!reply.StartsWith("+PONG", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Redis at {endpoint} answered PING with '{reply.Trim()}'");
        }
    }
}

/// <summary>
/// A throw-away redis-server (Debian's binary) on a free port with its own folder, append-only persistence and
/// <c>appendfsync always</c>: every write is in the AOF before it is acknowledged. <see cref="CrashAndRestartAsync"/>
/// kills it with SIGKILL and starts it again on the same port and folder (it reloads the AOF).
/// </summary>
internal sealed class PrivateRedis : IAsyncDisposable
{
    private readonly string _directory;
    private Process? _process;

    private PrivateRedis(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public static async Task<PrivateRedis> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "orleanssessions-redis-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        var redis = new PrivateRedis(directory, Ports.Free());
        try
        {
            await redis.LaunchAsync().ConfigureAwait(false);
            return redis;
        }
        catch
        {
            await redis.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>kill -9 of the server, then the same server again on the same port and data folder; returns when it answers PING.</summary>
    public async Task CrashAndRestartAsync()
    {
        Kill();
        await LaunchAsync().ConfigureAwait(false);
    }

    private async Task LaunchAsync()
    {
        var binary = File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _directory,
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
        })
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start redis-server (apt-get install redis-server).");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        await Wait.UntilAsync(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"redis-server on port {Port} exited with {process.ExitCode}");
            }
            await RedisPing.PingAsync(ConnectionString, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            return true;
        }, TimeSpan.FromSeconds(30), $"redis-server answering PING on port {Port}").ConfigureAwait(false);
    }

    private void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            using (var kill = Process.Start("kill", ["-KILL", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                kill.WaitForExit();
            }
            process.WaitForExit(10_000);
        }
        _process?.Dispose();
        _process = null;
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            Kill();
        }
        finally
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
        return ValueTask.CompletedTask;
    }
}
