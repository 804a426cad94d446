using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
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

/// <summary>
/// One silo (TCP gateway, real time) with small data bounds (Sessions:MaxAttributesBytes 256,
/// Sessions:MaxConversationBytes 1024) that keeps an ended session's data for an hour (Sessions:DataRetention).
/// </summary>
public sealed class DataSiloFixture : IAsyncLifetime
{
    public const int MaxAttributesBytes = 256;
    public const int MaxConversationBytes = 1024;

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = SessionClusters.Builder();
        builder.Properties["Sessions:MaxAttributesBytes"] = MaxAttributesBytes.ToString(CultureInfo.InvariantCulture);
        builder.Properties["Sessions:MaxConversationBytes"] = MaxConversationBytes.ToString(CultureInfo.InvariantCulture);
        builder.Properties["Sessions:DataRetention"] = "01:00:00";
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

internal static class Users
{
    public static string New(string prefix) => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{Guid.NewGuid():N}")[..(prefix.Length + 9)];
}

/// <summary>
/// One in-process silo (in-memory transport) whose grains run on a fake clock (a FakeTimeProvider as the silo's
/// TimeProvider; Orleans' background areas stay on the system clock), with <see cref="SessionCalls"/> recording the
/// session grain calls and <paramref name="settings"/> as configuration ("Sessions:DataRetention" = "01:00:00").
/// </summary>
internal static class FakeClockClusters
{
    // Configurators are created by type (no instance capture): the clock of the cluster being built is a static.
    private static FakeTimeProvider s_clock = new();

    public static async Task<TestCluster> StartAsync(FakeTimeProvider clock, IReadOnlyDictionary<string, string>? settings = null)
    {
        s_clock = clock;
        var builder = SessionClusters.Builder(ConnectionTransportType.InMemory);
        builder.AddSiloBuilderConfigurator<FakeClockConfigurator>();
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            builder.Properties[key] = value;
        }
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <summary>Advances <paramref name="clock"/>; due timer callbacks run inline, so off the test's thread, as Orleans' own fake-time tests do.</summary>
    public static Task AdvanceAsync(FakeTimeProvider clock, TimeSpan by) => Task.Run(() => clock.Advance(by)).WaitAsync(SessionClusters.WaitLimit);

    private sealed class FakeClockConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<TimeProvider>(s_clock);
            // Membership, messaging, reminders and the rest stay on the system clock: only grain time is fake.
            siloBuilder.Services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
            siloBuilder.AddIncomingGrainCallFilter<SessionCalls>();
        }
    }
}

/// <summary>The calls session grains received (method name and arguments), per session id, recorded by an incoming call filter.</summary>
internal sealed class SessionCalls : IIncomingGrainCallFilter
{
    private static readonly ConcurrentQueue<SessionCall> Recorded = new();

    /// <summary>The calls to <paramref name="sessionId"/>'s grain so far, in the order they arrived.</summary>
    public static IReadOnlyList<SessionCall> To(string sessionId) => Recorded.Where(c => c.SessionId == sessionId).ToList();

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.InterfaceMethod?.DeclaringType == typeof(ISessionGrain))
        {
            var arguments = new object?[context.Request.GetArgumentCount()];
            for (var i = 0; i < arguments.Length; i++)
            {
                arguments[i] = context.Request.GetArgument(i);
            }
            Recorded.Enqueue(new SessionCall(context.TargetId.Key.ToString()!, context.InterfaceMethod.Name, arguments));
        }
        await context.Invoke();
    }
}

internal sealed record SessionCall(string SessionId, string Method, object?[] Arguments);

/// <summary>One fake-clock silo (<see cref="FakeClockClusters"/>) shared by a test class; its clock starts at 2025-11-10 14:00 UTC.</summary>
public class FakeClockSiloFixture : IAsyncLifetime
{
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2025, 11, 10, 14, 0, 0, TimeSpan.Zero));

    public TestCluster Cluster { get; private set; } = null!;

    protected virtual IReadOnlyDictionary<string, string>? Settings => null;

    public async Task InitializeAsync() => Cluster = await FakeClockClusters.StartAsync(Clock, Settings);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>A fake-clock silo that keeps an ended session's data readable for an hour (Sessions:DataRetention).</summary>
public sealed class RetainingFakeClockSiloFixture : FakeClockSiloFixture
{
    protected override IReadOnlyDictionary<string, string>? Settings { get; } = new Dictionary<string, string> { ["Sessions:DataRetention"] = "01:00:00" };
}
