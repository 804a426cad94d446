using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>
/// A silo as its own process, killed with SIGKILL (kill -9) or on dispose: either the product's silo host
/// (silo/bin/Release/net10.0/OrleansSessions.Silo.dll, ready when GET /healthz answers 200) or this executable in
/// "bare-silo" mode (the bare floor grain, ready when it prints READY).
/// </summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _name;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SiloProcess(Process process, string name, int siloPort, int gatewayPort, int httpPort)
    {
        _process = process;
        _name = name;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        HttpPort = httpPort;
    }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public int HttpPort { get; }

    public string Gateway => $"127.0.0.1:{GatewayPort.ToString(CultureInfo.InvariantCulture)}";

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The repository's silo host, built by this project's build (a project reference).</summary>
    public static string SiloDll
    {
        get
        {
            if (Environment.GetEnvironmentVariable("BENCH_SILO_DLL") is { Length: > 0 } configured)
            {
                return configured;
            }
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OrleansSessions.sln")))
            {
                dir = dir.Parent;
            }
            if (dir is null)
            {
                throw new InvalidOperationException("cannot find the repository root from " + AppContext.BaseDirectory);
            }
            var dll = Path.Combine(dir.FullName, "silo", "bin", "Release", "net10.0", "OrleansSessions.Silo.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("build the silo (dotnet build silo -c Release)", dll);
        }
    }

    /// <summary>Starts the product's silo host with "--Section:Key=value" settings; ports are chosen here.</summary>
    public static SiloProcess StartSiloHost(string name, IEnumerable<string> settings)
    {
        var siloPort = FreePort();
        var gatewayPort = FreePort();
        var httpPort = FreePort();
        var info = NewInfo("dotnet");
        info.ArgumentList.Add(SiloDll);
        foreach (var arg in settings)
        {
            info.ArgumentList.Add(arg);
        }
        info.ArgumentList.Add($"--Silo:SiloPort={siloPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add($"--Silo:GatewayPort={gatewayPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add($"--Silo:HttpPort={httpPort.ToString(CultureInfo.InvariantCulture)}");
        // The session domain and the host lifetime log at Warning here (appsettings.json: Information).
        info.ArgumentList.Add("--Logging:LogLevel:OrleansSessions=Warning");
        info.ArgumentList.Add("--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning");
        return Start(name, info, siloPort, gatewayPort, httpPort);
    }

    /// <summary>Starts this executable in "bare-silo" mode: one silo with only the bare floor grain and memory storage.</summary>
    public static SiloProcess StartBareSilo(string name, string clusterId)
    {
        var siloPort = FreePort();
        var gatewayPort = FreePort();
        var exe = Path.Combine(AppContext.BaseDirectory, "OrleansSessions.Benchmarks");
        ProcessStartInfo info;
        if (File.Exists(exe))
        {
            info = NewInfo(exe);
        }
        else
        {
            info = NewInfo("dotnet");
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OrleansSessions.Benchmarks.dll"));
        }
        info.ArgumentList.Add("bare-silo");
        info.ArgumentList.Add($"--silo-port={siloPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add($"--gateway-port={gatewayPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add($"--cluster-id={clusterId}");
        return Start(name, info, siloPort, gatewayPort, 0);
    }

    private static ProcessStartInfo NewInfo(string fileName) => new(fileName)
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        UseShellExecute = false,
    };

    private static SiloProcess Start(string name, ProcessStartInfo info, int siloPort, int gatewayPort, int httpPort)
    {
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var silo = new SiloProcess(process, name, siloPort, gatewayPort, httpPort);
        process.Exited += (_, _) => silo._exited.TrySetResult();
        // The silo's log is echoed until it is ready; after that (a kill -9 of a peer makes every survivor log
        // pages of connection errors) only counted, and the count printed on dispose.
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            if (e.Data.StartsWith("READY", StringComparison.Ordinal))
            {
                silo._ready.TrySetResult();
                silo._quiet = true;
            }
            else
            {
                silo.Echo(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                silo.Echo(e.Data);
            }
        };
        process.Start();
        ChildRegistry.Register(process.Id);
        silo.OpenLogFile();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    private volatile bool _quiet;
    private int _suppressed;
    private volatile StreamWriter? _logFile;

    /// <summary>With BENCH_SILO_LOGS set to a directory, every line of the silo's output also goes to name-pid.log there.</summary>
    private void OpenLogFile()
    {
        if (Environment.GetEnvironmentVariable("BENCH_SILO_LOGS") is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, $"{_name}-{_process.Id.ToString(CultureInfo.InvariantCulture)}.log");
            _logFile = new StreamWriter(path) { AutoFlush = true };
        }
    }

    private void Echo(string line)
    {
        var file = _logFile;
        if (file is not null)
        {
            lock (file)
            {
                if (_logFile == file)
                {
                    file.WriteLine(line);
                }
            }
        }
        if (_quiet)
        {
            Interlocked.Increment(ref _suppressed);
        }
        else
        {
            Console.WriteLine($"  [{_name}] {line}");
        }
    }

    /// <summary>Waits until the silo serves (READY printed, or /healthz 200), failing if the process exits first.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        if (HttpPort == 0)
        {
            var first = await Task.WhenAny(_ready.Task, _exited.Task).WaitAsync(cts.Token);
            if (first != _ready.Task)
            {
                throw new InvalidOperationException($"silo {_name} exited before it was ready");
            }
            return;
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var uri = new Uri($"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}/healthz");
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"silo {_name} exited ({_process.ExitCode}) before it was ready");
            }
            try
            {
                using var response = await http.GetAsync(uri, cts.Token);
                if (response.IsSuccessStatusCode)
                {
                    _quiet = true;
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException) when (!cts.IsCancellationRequested)
            {
                // one attempt timed out
            }
            await Task.Delay(100, cts.Token);
        }
    }

    /// <summary>SIGKILL, as kill -9.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            Kill();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // best effort
        }
        ChildRegistry.Unregister(_process.Id);
        _process.Dispose();
        if (_logFile is { } file)
        {
            lock (file)
            {
                _logFile = null;
                file.Dispose();
            }
        }
        if (_suppressed > 0)
        {
            Console.WriteLine($"  [{_name}] {_suppressed} log lines after it was ready not shown");
        }
    }

    public static int FreePort()
    {
        lock (UsedPorts)
        {
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (UsedPorts.Add(port))
                {
                    return port;
                }
            }
        }
    }

    private static readonly HashSet<int> UsedPorts = [];
}

/// <summary>Writes the ids of child processes to BENCH_PIDS so bench/run.sh can kill leftovers if this process dies.</summary>
internal static class ChildRegistry
{
    private static readonly HashSet<int> Pids = [];

    public static void Register(int pid)
    {
        lock (Pids)
        {
            Pids.Add(pid);
            Write();
        }
    }

    public static void Unregister(int pid)
    {
        lock (Pids)
        {
            Pids.Remove(pid);
            Write();
        }
    }

    private static void Write()
    {
        if (Environment.GetEnvironmentVariable("BENCH_PIDS") is { Length: > 0 } path)
        {
            File.WriteAllLines(path, Pids.Select(p => p.ToString(CultureInfo.InvariantCulture)));
        }
    }
}
