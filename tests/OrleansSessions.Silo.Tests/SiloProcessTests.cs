using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using OrleansSessions.SiloHost.Hosting;

namespace OrleansSessions.Silo.Tests;

/// <summary>The silo host as a process: startup failures end with one line on stderr and a non-zero exit code.</summary>
public sealed class SiloProcessTests
{
    private static string SiloDll => Path.Combine(Repo.Root, "silo", "bin", Repo.Configuration, "net10.0", "OrleansSessions.Silo.dll");

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunSiloAsync(params string[] arguments)
    {
        Assert.True(File.Exists(SiloDll), $"{SiloDll} is not built");
        return ChildProcess.RunAsync("dotnet", [SiloDll, .. arguments], TimeSpan.FromSeconds(60));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string[] FreePorts() => [$"--Silo:SiloPort={FreePort()}", $"--Silo:HttpPort={FreePort()}"];

    [Fact]
    public async Task Taken_gateway_port_fails_with_a_line_naming_it()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var (exitCode, _, stderr) = await RunSiloAsync([.. FreePorts(), $"--Silo:GatewayPort={port}"]);
        Assert.NotEqual(0, exitCode);
        Assert.Contains($"Silo:GatewayPort {port} is already in use", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_storage_provider_fails_naming_the_key()
    {
        var (exitCode, _, stderr) = await RunSiloAsync([.. FreePorts(), $"--Silo:GatewayPort={FreePort()}", "--Storage:Provider=redis"]);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Storage:Provider 'redis' is not supported", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Non_loopback_host_without_token_refuses_to_start()
    {
        var (exitCode, _, stderr) = await RunSiloAsync([.. FreePorts(), $"--Silo:GatewayPort={FreePort()}", "--Silo:Host=0.0.0.0"]);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Security:ApiToken must be set", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_postgres_fails_with_one_line()
    {
        var (exitCode, _, stderr) = await RunSiloAsync([.. FreePorts(), $"--Silo:GatewayPort={FreePort()}", "--Storage:Provider=postgres",
            $"--Storage:ConnectionString=Host=127.0.0.1;Port={FreePort()};Username=postgres;Password=postgres;Database=nowhere;Timeout=3"]);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("PostgreSQL is unreachable", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Password", stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_session_option_fails_naming_the_key()
    {
        var (exitCode, _, stderr) = await RunSiloAsync([.. FreePorts(), $"--Silo:GatewayPort={FreePort()}", "--Sessions:IdleTimeout=soon"]);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Sessions:IdleTimeout", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Environment_variables_with_the_prefix_configure_the_silo()
    {
        var environment = new Dictionary<string, string> { ["OrleansSessions__Storage__Provider"] = "nosql" };
        var (exitCode, _, stderr) = await ChildProcess.RunAsync("dotnet", [SiloDll, .. FreePorts(), $"--Silo:GatewayPort={FreePort()}"], TimeSpan.FromSeconds(60), environment);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Storage:Provider 'nosql'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Port_in_use_is_described_by_its_key()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Silo:SiloPort"] = "12000", ["Silo:GatewayPort"] = "12001", ["Silo:HttpPort"] = "12002" })
            .Build();
        var exception = new IOException("Failed to bind to address http://127.0.0.1:12000: address already in use.", new Microsoft.AspNetCore.Connections.AddressInUseException("in use"));
        Assert.True(StartupFailure.TryDescribe(exception, configuration, out var message));
        Assert.StartsWith("Silo:SiloPort 12000 is already in use", message, StringComparison.Ordinal);
        Assert.False(StartupFailure.TryDescribe(new InvalidOperationException("other"), configuration, out _));
    }
}
