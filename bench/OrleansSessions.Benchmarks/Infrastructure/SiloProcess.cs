using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>This benchmark executable started in "silo" mode as a separate process; killed with SIGKILL (kill -9) or on dispose.</summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SiloProcess(Process process, int siloPort, int gatewayPort)
    {
        _process = process;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
    }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public string Gateway => $"127.0.0.1:{GatewayPort}";

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public static SiloProcess Start(string name, IEnumerable<string> extraArgs)
    {
        var siloPort = FreePort();
        var gatewayPort = FreePort();
        var exe = Path.Combine(AppContext.BaseDirectory, "OrleansSessions.Benchmarks");
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (File.Exists(exe))
        {
            info.FileName = exe;
        }
        else
        {
            info.FileName = "dotnet";
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OrleansSessions.Benchmarks.dll"));
        }
        info.ArgumentList.Add("silo");
        info.ArgumentList.Add($"--Silo:SiloPort={siloPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add($"--Silo:GatewayPort={gatewayPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add("--Silo:HttpPort=0");
        foreach (var arg in extraArgs)
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the silo process");
        var silo = new SiloProcess(process, siloPort, gatewayPort);
        ChildRegistry.Register(process.Id);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                silo._ready.TrySetException(new InvalidOperationException($"silo {name} exited before it was ready"));
                return;
            }
            if (e.Data.StartsWith("READY", StringComparison.Ordinal))
            {
                silo._ready.TrySetResult();
            }
            else
            {
                Console.WriteLine($"  [{name}] {e.Data}");
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine($"  [{name}] {e.Data}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        await _ready.Task.WaitAsync(timeout);
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
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
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
