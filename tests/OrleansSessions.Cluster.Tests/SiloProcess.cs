using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace OrleansSessions.Cluster.Tests;

/// <summary>One silo started as its own process (the real silo host), on PostgreSQL.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    private SiloProcess(int siloPort, int gatewayPort, int httpPort, IReadOnlyDictionary<string, string> settings)
    {
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        HttpPort = httpPort;
        Settings = settings;
    }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public int HttpPort { get; }

    public IReadOnlyDictionary<string, string> Settings { get; }

    public bool HasExited => _process is null || _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<SiloProcess> StartAsync(IReadOnlyDictionary<string, string> settings)
    {
        var silo = new SiloProcess(Ports.Next(), Ports.Next(), Ports.Next(), settings);
        await silo.StartAsync().ConfigureAwait(false);
        return silo;
    }

    /// <summary>Starts (or restarts) the process on the same ports.</summary>
    public async Task StartAsync()
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(SiloDll);
        foreach (var (key, value) in Settings)
        {
            info.ArgumentList.Add($"--{key}={value}");
        }
        info.ArgumentList.Add($"--Silo:SiloPort={SiloPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add($"--Silo:GatewayPort={GatewayPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add($"--Silo:HttpPort={HttpPort.ToString(CultureInfo.InvariantCulture)}");
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Wait.UntilAsync(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"silo exited with {process.ExitCode}:\n{Output}");
            }
            try
            {
                return (await http.GetAsync(new Uri($"http://127.0.0.1:{HttpPort}/healthz")).ConfigureAwait(false)).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), $"silo on {GatewayPort} healthy").ConfigureAwait(false);
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            if (_output.Length < 2_000_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>kill -9.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>SIGTERM, then wait for a graceful exit.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().ConfigureAwait(false);
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process?.Dispose();
    }

    private static string SiloDll
    {
        get
        {
            var testDir = AppContext.BaseDirectory; // .../tests/OrleansSessions.Cluster.Tests/bin/<Configuration>/net10.0/
            var tfm = new DirectoryInfo(testDir.TrimEnd(Path.DirectorySeparatorChar));
            var configuration = tfm.Parent!.Name;
            var root = tfm;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "OrleansSessions.sln")))
            {
                root = root.Parent;
            }
            if (root is null)
            {
                throw new InvalidOperationException("Cannot find the repository root from " + testDir);
            }
            var dll = Path.Combine(root.FullName, "silo", "bin", configuration, tfm.Name, "OrleansSessions.Silo.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("Build the silo first (dotnet build silo).", dll);
        }
    }
}

internal static class Ports
{
    private static readonly HashSet<int> Used = [];

    public static int Next()
    {
        lock (Used)
        {
            while (true)
            {
                using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
                listener.Start();
                var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (Used.Add(port))
                {
                    return port;
                }
            }
        }
    }
}

internal static class Wait
{
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition().ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (InvalidOperationException)
            {
                throw;
            }
            catch (Exception ex)
            {
                last = ex;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for: {what}", last);
            }
            await Task.Delay(50).ConfigureAwait(false);
        }
    }
}
