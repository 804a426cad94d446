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

/// <summary>SCAN over a raw socket (RESP2): the keys of a Redis server at "host:port" that match a glob pattern.</summary>
internal static class RedisKeys
{
    public static async Task<List<string>> ScanAsync(string endpoint, string pattern, TimeSpan? timeout = null)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = colon < 0 ? endpoint : endpoint[..colon];
        var port = colon < 0 ? 6379 : int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        using var client = new TcpClient();
        await client.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
        var stream = client.GetStream();
        var reader = new Reader(stream);
        var keys = new List<string>();
        var cursor = "0";
        do
        {
            await stream.WriteAsync(Command("SCAN", cursor, "MATCH", pattern, "COUNT", "1000"), cts.Token).ConfigureAwait(false);
            if (await reader.ReadAsync(cts.Token).ConfigureAwait(false) is not object?[] { Length: 2 } reply || reply[0] is not string next || reply[1] is not object?[] batch)
            {
                throw new InvalidOperationException($"Redis at {endpoint} answered SCAN with something else than [cursor, keys]");
            }
            keys.AddRange(batch.OfType<string>());
            cursor = next;
        }
        while (cursor != "0");
        return keys;
    }

    private static byte[] Command(params string[] parts)
    {
        var text = new StringBuilder().Append('*').Append(parts.Length).Append("\r\n");
        foreach (var part in parts)
        {
            text.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>Reads one RESP2 reply: simple strings and bulk strings as string (null bulk as null), integers as long, arrays as object?[]; errors throw.</summary>
    private sealed class Reader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        public async Task<object?> ReadAsync(CancellationToken cancellationToken)
        {
            var line = await LineAsync(cancellationToken).ConfigureAwait(false);
            var rest = line[1..];
            switch (line[0])
            {
                case '+':
                    return rest;
                case '-':
                    throw new InvalidOperationException("Redis error: " + rest);
                case ':':
                    return long.Parse(rest, CultureInfo.InvariantCulture);
                case '$':
                    var length = int.Parse(rest, CultureInfo.InvariantCulture);
                    if (length < 0)
                    {
                        return null;
                    }
                    var bytes = await BytesAsync(length + 2, cancellationToken).ConfigureAwait(false);
                    return Encoding.UTF8.GetString(bytes, 0, length);
                case '*':
                    var count = int.Parse(rest, CultureInfo.InvariantCulture);
                    if (count < 0)
                    {
                        return null;
                    }
                    var items = new object?[count];
                    for (var i = 0; i < count; i++)
                    {
                        items[i] = await ReadAsync(cancellationToken).ConfigureAwait(false);
                    }
                    return items;
                default:
                    throw new InvalidOperationException($"Unexpected RESP reply '{line}'");
            }
        }

        private async Task<string> LineAsync(CancellationToken cancellationToken)
        {
            var line = new StringBuilder();
            while (true)
            {
                if (_start == _end)
                {
                    await FillAsync(cancellationToken).ConfigureAwait(false);
                }
                var b = (char)_buffer[_start++];
                if (b == '\n' && line.Length > 0 && line[^1] == '\r')
                {
                    return line.ToString(0, line.Length - 1);
                }
                line.Append(b);
            }
        }

        private async Task<byte[]> BytesAsync(int count, CancellationToken cancellationToken)
        {
            var bytes = new byte[count];
            var done = 0;
            while (done < count)
            {
                if (_start == _end)
                {
                    await FillAsync(cancellationToken).ConfigureAwait(false);
                }
                var n = Math.Min(count - done, _end - _start);
                Array.Copy(_buffer, _start, bytes, done, n);
                _start += n;
                done += n;
            }
            return bytes;
        }

        private async Task FillAsync(CancellationToken cancellationToken)
        {
            _start = 0;
            _end = await stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
            if (_end == 0)
            {
                throw new IOException("Redis closed the connection");
            }
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
