using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Orleans.TestingHost;
using OrleansSessions.Client;
using OrleansSessions.Grains;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace OrleansSessions.ClientApp.Tests;

/// <summary>Runs the built client app (dotnet client/bin/&lt;config&gt;/net10.0/OrleansSessions.ClientApp.dll) against a silo.</summary>
internal static class ClientProcess
{
    public static string Dll => Repo.ClientDll;

    /// <summary>The gateway of <paramref name="cluster"/>'s first silo as host:port.</summary>
    public static string Gateway(TestCluster cluster) => cluster.Silos[0].GatewayAddress.Endpoint.ToString();

    /// <summary>The global options that point the client at <paramref name="cluster"/>'s first silo.</summary>
    public static string[] Target(TestCluster cluster)
        => ["--gateway", Gateway(cluster), "--cluster-id", cluster.Options.ClusterId];

    public static async Task<Result> RunAsync(IEnumerable<string> arguments, TimeSpan? timeout = null, IDictionary<string, string?>? environment = null)
    {
        using var process = Start(arguments, environment);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"client {string.Join(' ', arguments)} did not exit in time. stdout: {await stdout} stderr: {await stderr}");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    public static Process Start(IEnumerable<string> arguments, IDictionary<string, string?>? environment = null)
    {
        Assert.True(File.Exists(Dll), $"{Dll} is not built");
        // Through env --default-signal=INT: a runner started in the background (nohup, "cmd &" in a script) ignores
        // SIGINT, its children inherit that, and .NET never handles a SIGINT that was ignored when it started, so the
        // client's Ctrl+C would not be tested there. env resets it and execs dotnet in its place (same process id).
        var info = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(Dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        // The variables of the developer's shell must not leak into the tests.
        info.Environment.Remove("OrleansSessions__Security__ApiToken");
        info.Environment.Remove("OrleansSessions__Cluster__ClusterId");
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null)
                {
                    info.Environment.Remove(key);
                }
                else
                {
                    info.Environment[key] = value;
                }
            }
        }
        return Process.Start(info) ?? throw new InvalidOperationException("Could not start the client.");
    }

    /// <summary>Stops <paramref name="process"/> as Ctrl+C would (SIGINT), killing it if it has not exited within the wait limit.</summary>
    public static async Task StopAsync(Process process)
    {
        if (process.HasExited)
        {
            return;
        }
        using (var signal = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await signal.WaitForExitAsync();
        }
        using var deadline = new CancellationTokenSource(SessionClusters.WaitLimit);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail("The client did not stop on SIGINT.");
        }
    }

    internal sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public JsonElement Json()
        {
            Assert.True(ExitCode == 0, $"exit {ExitCode}; stderr: {Stderr}; stdout: {Stdout}");
            return JsonDocument.Parse(Stdout).RootElement.Clone();
        }

        public void AssertFailed(int exitCode, string stderrContains)
        {
            Assert.True(ExitCode == exitCode, $"expected exit {exitCode}, got {ExitCode}; stderr: {Stderr}; stdout: {Stdout}");
            Assert.Contains(stderrContains, Stderr, StringComparison.Ordinal);
            Assert.Equal("", Stdout.Trim());
            Assert.DoesNotContain("   at ", Stderr, StringComparison.Ordinal);
        }
    }
}

/// <summary>Test clusters of Orleans' TestingHost hosting the session grains, reachable over TCP by client processes.</summary>
internal static class SessionClusters
{
    /// <summary>How long a condition may take to become true (events, process output).</summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    /// <summary>A one-silo builder: session grains, memory storage and reminders, TCP gateway, ServiceId of the real silos.</summary>
    public static TestClusterBuilder Builder(ConnectionTransportType transport = ConnectionTransportType.TcpSocket)
    {
        var builder = new TestClusterBuilder(1);
        builder.Options.ConnectionTransport = transport;
        builder.Options.ServiceId = SessionClientOptions.DefaultServiceId;
        builder.Options.ConfigureFileLogging = false;
        builder.AddSiloBuilderConfigurator<SessionSiloConfigurator>();
        builder.AddClientBuilderConfigurator<SessionClientConfigurator>();
        return builder;
    }

    private sealed class SessionSiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddOrleansSessions();
            siloBuilder.AddMemoryGrainStorage(SessionStorage.Name);
            siloBuilder.AddMemoryGrainStorage("PubSubStore");
            siloBuilder.UseInMemoryReminderService();
        }
    }

    private sealed class SessionClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder)
            => clientBuilder.AddMemoryStreams(SessionStreams.ProviderName);
    }
}

/// <summary>One silo hosting the session grains with default options.</summary>
public sealed class SiloFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = SessionClusters.Builder().Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

internal static class Users
{
    public static string New(string prefix) => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{Guid.NewGuid():N}")[..(prefix.Length + 9)];
}
