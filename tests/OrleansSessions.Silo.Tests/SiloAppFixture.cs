using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// The silo host (silo/Program.cs) in the test process on the in-memory default with default session options: its
/// HTTP API served by TestServer (<see cref="WebApplicationFactory{TEntryPoint}"/>), its Orleans silo and gateway on
/// free ports. For tests of the API's behaviour; tests of the process itself (exit codes, kill, limits, TLS) start a
/// <see cref="SiloProcess"/>.
/// </summary>
public sealed class SiloAppFixture : IAsyncLifetime
{
    private readonly SiloAppFactory _factory;

    public SiloAppFixture() : this(new Dictionary<string, string>())
    {
    }

    /// <summary>The silo host with <paramref name="settings"/> (configuration keys and values) on top of its defaults.</summary>
    internal SiloAppFixture(IReadOnlyDictionary<string, string> settings) => _factory = new(settings);

    public HttpClient Http { get; private set; } = null!;

    /// <summary>What the host logged (OrleansSessions categories from Trace, the rest at the configured levels), with exceptions.</summary>
    public IReadOnlyCollection<string> Logs => _factory.Logs.Lines;

    /// <summary>The silo address /healthz reports.</summary>
    public string Address { get; private set; } = "";

    public int GatewayPort => _factory.GatewayPort;

    /// <summary>Silo:HttpPort: the port the API reports; TestServer serves the requests, nothing listens on it.</summary>
    public int HttpPort => _factory.HttpPort;

    public async Task InitializeAsync()
    {
        Http = _factory.CreateClient();
        if (_factory.Token is { } token)
        {
            Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var health = await Http.GetAsync(new Uri("/healthz", UriKind.Relative));
        health.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
        Address = body.RootElement.GetProperty("silo").GetString() ?? "";
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        await _factory.DisposeAsync();
    }

    /// <summary>A client of the host without the fixture's token.</summary>
    public HttpClient CreateClient() => _factory.CreateClient();

    private sealed class SiloAppFactory(IReadOnlyDictionary<string, string> settings) : WebApplicationFactory<Program>
    {
        public CapturedLogs Logs { get; } = new();

        public string? Token => settings.GetValueOrDefault("Security:ApiToken");

        public int SiloPort { get; } = Ports.Free();

        public int GatewayPort { get; } = Ports.Free();

        public int HttpPort { get; } = Ports.Free();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            // Host settings reach Program as "--key=value" arguments, ahead of its own configuration sources.
            builder.UseSetting("Silo:SiloPort", SiloPort.ToString(CultureInfo.InvariantCulture));
            builder.UseSetting("Silo:GatewayPort", GatewayPort.ToString(CultureInfo.InvariantCulture));
            builder.UseSetting("Silo:HttpPort", HttpPort.ToString(CultureInfo.InvariantCulture));
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
            builder.ConfigureLogging(logging => logging.AddProvider(Logs).AddFilter<CapturedLogs>("OrleansSessions", LogLevel.Trace));
        }
    }
}

/// <summary>Keeps every line logged through it (the newest 100,000), with its exception.</summary>
[ProviderAlias("Captured")]
internal sealed class CapturedLogs : ILoggerProvider
{
    private const int Capacity = 100_000;

    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs logs, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            logs._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
            while (logs._lines.Count > Capacity && logs._lines.TryDequeue(out _))
            {
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SiloAppCollection : ICollectionFixture<SiloAppFixture>
{
    public const string Name = "silo host in the test process";
}

/// <summary>
/// The silo host in the test process with session data kept after the end (Sessions:DataRetention 10 minutes), a short
/// conversation (Sessions:ConversationLimit 5, Sessions:ContinueMessages 3) and Security:ApiToken (<see cref="Http"/>
/// sends it).
/// </summary>
public sealed class DataRetentionAppFixture : IAsyncLifetime
{
    public const string Token = "data-retention-test-token";
    public const int ConversationLimit = 5;
    public const int ContinueMessages = 3;

    public SiloAppFixture App { get; } = new(new Dictionary<string, string>
    {
        ["Cluster:ClusterId"] = "data-retention",
        ["Sessions:DataRetention"] = "00:10:00",
        ["Sessions:ConversationLimit"] = ConversationLimit.ToString(CultureInfo.InvariantCulture),
        ["Sessions:ContinueMessages"] = ContinueMessages.ToString(CultureInfo.InvariantCulture),
        ["Security:ApiToken"] = Token,
    });

    public HttpClient Http => App.Http;

    public Task InitializeAsync() => App.InitializeAsync();

    public Task DisposeAsync() => App.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class DataRetentionAppCollection : ICollectionFixture<DataRetentionAppFixture>
{
    public const string Name = "silo host with session data retention";
}
