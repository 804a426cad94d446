using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using OrleansSessions.Hosting;
using OrleansSessions.TestingHost;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace OrleansSessions.ClientApp.Tests;

/// <summary>Runs the built client app (dotnet client/bin/&lt;config&gt;/net10.0/OrleansSessions.ClientApp.dll) against a silo.</summary>
internal static class ClientProcess
{
    public static string Root { get; } = FindRoot();

    public static string Configuration { get; } = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string Dll => Path.Combine(Root, "client", "bin", Configuration, "net10.0", "OrleansSessions.ClientApp.dll");

    /// <summary>The global options that point the client at <paramref name="cluster"/>'s first silo.</summary>
    public static string[] Target(TestCluster cluster)
        => ["--gateway", $"127.0.0.1:{cluster.Silos[0].GatewayPort}", "--cluster-id", "testcluster"];

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
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(Dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        // The token variable of the developer's shell must not leak into the tests.
        info.Environment.Remove("OrleansSessions__Security__ApiToken");
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

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OrleansSessions.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("OrleansSessions.sln not found");
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

/// <summary>One silo hosting the session grains with default options.</summary>
public sealed class SiloFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
        => Cluster = await new TestClusterBuilder(1).ConfigureSilo(s => s.AddSessionGrains()).BuildAndStartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

internal static class Users
{
    public static string New(string prefix) => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{Guid.NewGuid():N}")[..(prefix.Length + 9)];
}
