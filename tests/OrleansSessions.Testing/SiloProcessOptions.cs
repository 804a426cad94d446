namespace OrleansSessions.Testing;

/// <summary>The ports a <see cref="SiloProcess"/> is handed (free ones, from <see cref="Ports.Free"/>).</summary>
public readonly record struct SiloPorts(int Silo, int Gateway, int Http);

/// <summary>How to start a <see cref="SiloProcess"/>. The defaults start the repository's silo host (<see cref="Repo.SiloDll"/>).</summary>
public sealed record SiloProcessOptions
{
    /// <summary>The silo's name in messages and output ("silo 1").</summary>
    public string Name { get; init; } = "silo";

    /// <summary>The silo's position in its cluster (0-based), for tests that number their silos.</summary>
    public int Index { get; init; }

    /// <summary>Settings as command-line arguments ("--Section:Key=value"), after the program.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>The ports to use; null: free ones. <see cref="SiloProcess.StartAgainAsync"/> sets them to restart a silo where it was.</summary>
    public SiloPorts? Ports { get; init; }

    /// <summary>The program and its first arguments; null: <c>dotnet</c> <see cref="Repo.SiloDll"/>.</summary>
    public IReadOnlyList<string>? Command { get; init; }

    /// <summary>The arguments that give the process its ports; null: the silo host's --Silo:SiloPort, --Silo:GatewayPort and --Silo:HttpPort.</summary>
    public Func<SiloPorts, IEnumerable<string>>? PortArguments { get; init; }

    /// <summary>A line the process prints once it serves; null: it serves once GET /healthz answers 200 on its HTTP port.</summary>
    public string? ReadyLine { get; init; }

    /// <summary>The soft and hard open-file limit (RLIMIT_NOFILE) of the process, when given.</summary>
    public int? OpenFileLimit { get; init; }

    /// <summary>True: disposing stops the silo with SIGTERM (a graceful leave), bounded by 15 s; false: kill -9.</summary>
    public bool StopGracefully { get; init; }

    /// <summary>How long <see cref="SiloProcess.StartAsync(SiloProcessOptions)"/> waits for the silo to serve.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Called with each line the process writes (stderr lines prefixed "stderr: "), besides <see cref="SiloProcess.Output"/>.</summary>
    public Action<SiloProcess, string>? OnOutput { get; init; }

    /// <summary>Called once the process has started, with its id known.</summary>
    public Action<SiloProcess>? OnStarted { get; init; }

    /// <summary>Called when the process has been disposed.</summary>
    public Action<SiloProcess>? OnDisposed { get; init; }
}
