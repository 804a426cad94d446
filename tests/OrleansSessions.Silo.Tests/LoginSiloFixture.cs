using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using OrleansSessions.AspNetCore.Logins;
using OrleansSessions.Grains;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// The silo host in the test process (as <see cref="SiloAppFixture"/>) for the tests of the cookie ticket store:
/// Sessions:PersistTouches=true (a touch writes to storage, so an outage reaches it), Sessions:MaxPerUser=2 with
/// EvictOldest, Sessions:DataRetention=10 min (an ended session's ticket stays readable), and its session storage
/// behind a switch that makes it fail (<see cref="Outage"/>).
/// </summary>
public sealed class LoginSiloFixture : IAsyncLifetime
{
    private readonly Factory _factory = new();

    public const int MaxPerUser = 2;

    /// <summary>The silo's own grain factory: the ticket store in a co-hosted app.</summary>
    public IGrainFactory Grains => _factory.Services.GetRequiredService<IGrainFactory>();

    /// <summary>While set, every read, write and clear of the session storage fails as its backend would be unreachable.</summary>
    internal StorageOutage Outage => _factory.Outage;

    public async Task InitializeAsync()
    {
        using var http = _factory.CreateClient();
        using var health = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
        health.EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    private sealed class Factory : WebApplicationFactory<Program>
    {
        public StorageOutage Outage { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("Silo:SiloPort", Ports.Free().ToString(CultureInfo.InvariantCulture));
            builder.UseSetting("Silo:GatewayPort", Ports.Free().ToString(CultureInfo.InvariantCulture));
            builder.UseSetting("Silo:HttpPort", Ports.Free().ToString(CultureInfo.InvariantCulture));
            builder.UseSetting("Sessions:PersistTouches", "true");
            builder.UseSetting("Sessions:MaxPerUser", MaxPerUser.ToString(CultureInfo.InvariantCulture));
            builder.UseSetting("Sessions:OverLimit", "EvictOldest");
            // Ended sessions keep their attributes readable: the store must not take a readable ticket for a live login.
            builder.UseSetting("Sessions:DataRetention", "00:10:00");
            builder.ConfigureTestServices(services =>
            {
                ServiceDescriptor? registered = null;
                foreach (var descriptor in services)
                {
                    if (descriptor.IsKeyedService && descriptor.ServiceType == typeof(IGrainStorage) && Equals(descriptor.ServiceKey, SessionStorage.Name))
                    {
                        registered = descriptor;
                    }
                }
                var create = registered?.KeyedImplementationFactory ?? throw new InvalidOperationException("The silo host registered no session storage by a factory.");
                services.Remove(registered);
                services.AddKeyedSingleton<IGrainStorage>(SessionStorage.Name, (sp, key) => new OutageGrainStorage((IGrainStorage)create(sp, key), Outage));
                // As a storage backend does: its failures reach callers as storage_unavailable.
                services.AddGrainStorageFailureTranslation(SessionStorage.Name,
                    e => e is StorageOutageException ? new SessionStorageUnavailableException("The session storage (test) is unavailable: " + e.Message, e) : null);
            });
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LoginSiloCollection : ICollectionFixture<LoginSiloFixture>
{
    public const string Name = "silo host for cookie logins";
}

internal sealed class StorageOutage
{
    private volatile bool _down;

    public bool Down
    {
        get => _down;
        set => _down = value;
    }

    public void ThrowIfDown()
    {
        if (_down)
        {
            throw new StorageOutageException();
        }
    }
}

internal sealed class StorageOutageException : Exception
{
    public StorageOutageException() : base("connection refused (a test outage)") { }
}

/// <summary>The session storage of the silo host, failing while <see cref="StorageOutage.Down"/>.</summary>
internal sealed class OutageGrainStorage(IGrainStorage inner, StorageOutage outage) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        outage.ThrowIfDown();
        return inner.ReadStateAsync(stateName, grainId, grainState);
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        outage.ThrowIfDown();
        return inner.WriteStateAsync(stateName, grainId, grainState);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        outage.ThrowIfDown();
        return inner.ClearStateAsync(stateName, grainId, grainState);
    }

    public void Participate(ISiloLifecycle observer) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(observer);
}

/// <summary>
/// A cookie scheme's ticket store as an app gets it: services with cookie authentication and
/// <c>AddOrleansSessionTicketStore</c> over <paramref name="grains"/>, its own data protection keys (in memory), and
/// every log line captured.
/// </summary>
internal sealed class LoginStore : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private LoginStore(ServiceProvider services, LogCapture logs)
    {
        _services = services;
        Logs = logs;
        Store = services.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>().Get(CookieAuthenticationDefaults.AuthenticationScheme).SessionStore
            ?? throw new InvalidOperationException("AddOrleansSessionTicketStore set no session store.");
    }

    public ITicketStore Store { get; }

    public LogCapture Logs { get; }

    public static LoginStore Create(IGrainFactory grains, Action<OrleansSessionTicketStoreOptions>? configure = null)
    {
        var logs = new LogCapture();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        services.AddSingleton(grains);
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddAuthentication().AddCookie();
        services.AddOrleansSessionTicketStore(configure: configure);
        return new LoginStore(services.BuildServiceProvider(), logs);
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}

/// <summary>Every log line (message and exception) of a service provider's loggers.</summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public string Text => string.Join('\n', _lines);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => capture._lines.Enqueue($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
    }
}
