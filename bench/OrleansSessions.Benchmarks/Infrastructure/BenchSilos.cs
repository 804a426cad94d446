using System.Globalization;
using OrleansSessions.Testing;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>
/// The bench's silos, as processes of the tests' <see cref="SiloProcess"/> killed with SIGKILL on dispose: the
/// product's silo host (silo/bin/Release/net10.0/OrleansSessions.Silo.dll, or BENCH_SILO_DLL) or this executable in
/// "bare-silo" mode (the bare floor grain, ready when it prints READY). A silo's output is echoed until it serves;
/// after that (a kill -9 of a peer makes every survivor log pages of connection errors) only counted, and the count
/// printed on dispose. With BENCH_SILO_LOGS set to a directory, every line also goes to name-pid.log there.
/// </summary>
internal static class BenchSilos
{
    extension(SiloProcess)
    {
        /// <summary>Starts the product's silo host with "--Section:Key=value" settings; ports are chosen here.</summary>
        public static SiloProcess StartSiloHost(string name, IEnumerable<string> settings) => SiloProcess.Launch(Echoed(new SiloProcessOptions
        {
            Name = name,
            Command = ["dotnet", SiloDll],
            // The session domain and the host lifetime log at Warning here (appsettings.json: Information).
            Arguments = [.. settings, "--Logging:LogLevel:OrleansSessions=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning"],
        }));

        /// <summary>Starts this executable in "bare-silo" mode: one silo with only the bare floor grain and memory storage.</summary>
        public static SiloProcess StartBareSilo(string name, string clusterId)
        {
            var exe = Path.Combine(AppContext.BaseDirectory, "OrleansSessions.Benchmarks");
            return SiloProcess.Launch(Echoed(new SiloProcessOptions
            {
                Name = name,
                Command = File.Exists(exe) ? [exe, "bare-silo"] : ["dotnet", Path.Combine(AppContext.BaseDirectory, "OrleansSessions.Benchmarks.dll"), "bare-silo"],
                PortArguments = ports =>
                [
                    $"--silo-port={ports.Silo.ToString(CultureInfo.InvariantCulture)}",
                    $"--gateway-port={ports.Gateway.ToString(CultureInfo.InvariantCulture)}",
                ],
                Arguments = [$"--cluster-id={clusterId}"],
                ReadyLine = "READY",
            }));
        }
    }

    /// <summary>The repository's silo host, built by this project's build (a project reference), or BENCH_SILO_DLL.</summary>
    private static string SiloDll
    {
        get
        {
            if (Environment.GetEnvironmentVariable("BENCH_SILO_DLL") is { Length: > 0 } configured)
            {
                return configured;
            }
            var dll = Path.Combine(Repo.Root, "silo", "bin", "Release", "net10.0", "OrleansSessions.Silo.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("build the silo (dotnet build silo -c Release)", dll);
        }
    }

    private static SiloProcessOptions Echoed(SiloProcessOptions options)
    {
        var echo = new Echo();
        return options with
        {
            OnStarted = echo.Started,
            OnOutput = echo.Line,
            OnDisposed = echo.Disposed,
        };
    }

    private sealed class Echo
    {
        private readonly Lock _gate = new();
        private StreamWriter? _logFile;
        private int _suppressed;

        public void Started(SiloProcess silo)
        {
            ChildRegistry.Register(silo.Pid);
            if (Environment.GetEnvironmentVariable("BENCH_SILO_LOGS") is { Length: > 0 } dir)
            {
                Directory.CreateDirectory(dir);
                lock (_gate)
                {
                    _logFile = new StreamWriter(Path.Combine(dir, $"{silo.Name}-{silo.Pid.ToString(CultureInfo.InvariantCulture)}.log")) { AutoFlush = true };
                }
            }
        }

        public void Line(SiloProcess silo, string line)
        {
            lock (_gate)
            {
                _logFile?.WriteLine(line);
            }
            if (silo.IsReady)
            {
                Interlocked.Increment(ref _suppressed);
            }
            else
            {
                Console.WriteLine($"  [{silo.Name}] {line}");
            }
        }

        public void Disposed(SiloProcess silo)
        {
            ChildRegistry.Unregister(silo.Pid);
            lock (_gate)
            {
                _logFile?.Dispose();
                _logFile = null;
            }
            if (_suppressed > 0)
            {
                Console.WriteLine($"  [{silo.Name}] {_suppressed} log lines after it was ready not shown");
            }
        }
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
