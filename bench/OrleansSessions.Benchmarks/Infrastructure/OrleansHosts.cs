using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansSessions.Grains.Options;
using Orleans.Configuration;
using OrleansSessions.Grains;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.Testing;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>
/// An Orleans silo hosted in the bench process (Host.CreateApplicationBuilder + UseOrleans) with the session grains
/// and the bare floor grain of this assembly. Memory default: UseLocalhostClustering on free ports, Orleans' memory
/// grain storage named <see cref="SessionStorage.Name"/> and "PubSubStore", the in-memory reminder service; or
/// UseOrleansSessionsPostgreSql, or UseOrleansSessionsRedis. ServiceId "orleans-sessions" as the silo host.
/// </summary>
internal sealed class InProcessSilo : IAsyncDisposable
{
    public const string ServiceId = "orleans-sessions";

    private readonly IHost _host;

    private InProcessSilo(IHost host, int gatewayPort)
    {
        _host = host;
        GatewayPort = gatewayPort;
    }

    private bool _disposed;

    public IServiceProvider Services => _host.Services;

    /// <summary>The hosted client (runs in the silo process, no network).</summary>
    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    public int GatewayPort { get; }

    /// <summary>
    /// Starts the silo; <paramref name="configure"/>, when given, adds to the silo's configuration (e.g. a grain call
    /// filter of the bench); <paramref name="services"/>, when given, runs on the host's services after the silo and its
    /// backend registered theirs (e.g. to replace one of the backend's services).
    /// </summary>
    public static async Task<InProcessSilo> StartAsync(IDictionary<string, string?>? configuration = null, string? postgres = null, string clusterId = "bench", string? redis = null,
        Action<ISiloBuilder>? configure = null, Action<IServiceCollection>? services = null)
    {
        var siloPort = Ports.Free();
        var gatewayPort = Ports.Free();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], EnvironmentName = "Production", DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(configuration ?? new Dictionary<string, string?>());
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The bench process decides when it exits (Ctrl+C included): no console lifetime waiting for the host on exit.
        builder.Services.AddSingleton<IHostLifetime, ProcessOwnedLifetime>();
        // The silo's warning that server GC is off: the bench runs the silo host's GC settings on purpose.
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);
        if (postgres is null && redis is null && builder.Configuration["Sessions:PersistTouches"] is null)
        {
            // As the silo host on its memory default: touches are written at deactivation.
            builder.Services.PostConfigure<SessionOptions>(o => o.PersistTouches = false);
        }
        builder.UseOrleans(silo =>
        {
            silo.AddOrleansSessions();
            configure?.Invoke(silo);
            // IManagementGrain.ForceActivationCollection over 1,000,000 activations (the memory step of a full run) answers
            // only after they are collected, which takes longer than Orleans' 30 s defaults.
            silo.Configure<SiloMessagingOptions>(o =>
            {
                o.ResponseTimeout = TimeSpan.FromMinutes(10);
                // The management grain's own calls to each silo's control system target.
                o.SystemResponseTimeout = TimeSpan.FromMinutes(10);
            });
            if (postgres is null && redis is null)
            {
                silo.UseLocalhostClustering(siloPort, gatewayPort, null, ServiceId, clusterId);
                InProcessSilo.AddMemoryStorage(silo);
                silo.AddMemoryGrainStorage("PubSubStore");
                silo.UseInMemoryReminderService();
            }
            else
            {
                if (redis is not null)
                {
                    silo.UseOrleansSessionsRedis(redis);
                }
                else
                {
                    silo.UseOrleansSessionsPostgreSql(postgres!);
                }
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ServiceId = ServiceId;
                    o.ClusterId = clusterId;
                });
                silo.Configure<EndpointOptions>(o =>
                {
                    o.AdvertisedIPAddress = IPAddress.Loopback;
                    o.SiloPort = siloPort;
                    o.GatewayPort = gatewayPort;
                    o.SiloListeningEndpoint = new IPEndPoint(IPAddress.Loopback, siloPort);
                    o.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Loopback, gatewayPort);
                });
            }
        });
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        return new InProcessSilo(host, gatewayPort);
    }

    /// <summary>Activations of every grain type in the silo (IManagementGrain).</summary>
    public async Task<int> ActivationCountAsync() => await Client.GetGrain<IManagementGrain>(0).GetTotalActivationCount();

    /// <summary>IManagementGrain.ForceActivationCollection(age): collects the activations idle for longer than age that may be collected.</summary>
    public async Task CollectIdleAsync(TimeSpan age) => await Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(age);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        // A silo holding 1,000,000 activations can take many minutes to stop gracefully (each one deactivates), after
        // its figures are written: the stop is bounded, and a silo that has not stopped by then is left to the
        // process's exit (Program ends with Environment.Exit; the host's lifetime does not hold the exit back).
        using var cts = new CancellationTokenSource(StopTimeout);
        var stop = _host.StopAsync(cts.Token);
        var finished = await Task.WhenAny(stop, Task.Delay(StopTimeout + TimeSpan.FromSeconds(5))) == stop;
        if (!finished)
        {
            Console.Error.WriteLine($"  the in-process silo did not stop within {StopTimeout.TotalSeconds:F0} s; left to the process's exit");
            return;
        }
        try
        {
            await stop;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"  stopping the in-process silo: {ex.GetType().Name}: {ex.Message}");
        }
        _host.Dispose();
    }

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Orleans' memory grain storage as the silo host registers it (silo/Hosting/SiloHostExtensions.cs): Orleans' binary
    /// serializer instead of its default JSON with type names.
    /// </summary>
    public static void AddMemoryStorage(ISiloBuilder silo)
    {
        silo.AddMemoryGrainStorage(SessionStorage.Name);
        silo.Services.AddOptions<Orleans.Configuration.MemoryGrainStorageOptions>(SessionStorage.Name)
            .PostConfigure<Orleans.Serialization.Serializer>((o, serializer) => o.GrainStorageSerializer = new Orleans.Storage.OrleansGrainStorageSerializer(serializer));
    }
}

/// <summary>An Orleans client in the bench process (Host.CreateApplicationBuilder + UseOrleansClient + UseOrleansSessions).</summary>
internal sealed class ClientHost : IAsyncDisposable
{
    private readonly IHost _host;

    private ClientHost(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>The client's <see cref="SessionToucher"/> (UseOrleansSessions registers one).</summary>
    public SessionToucher Toucher => _host.Services.GetRequiredService<SessionToucher>();

    /// <summary>Starts a client on <paramref name="gateways"/>; <paramref name="responseTimeout"/>, when given, replaces UseOrleansSessions' response timeout (SessionClientOptions.ResponseTimeout, 5 s).</summary>
    public static async Task<ClientHost> StartAsync(IEnumerable<string> gateways, string clusterId, TimeSpan? responseTimeout = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], EnvironmentName = "Production", DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client => client.UseOrleansSessions(o =>
        {
            foreach (var gateway in gateways)
            {
                o.Gateways.Add(gateway);
            }
            o.ClusterId = clusterId;
            o.ConnectTimeout = TimeSpan.FromSeconds(30);
        }).Configure<ClientMessagingOptions>(o => o.ResponseTimeout = responseTimeout ?? o.ResponseTimeout));
        var host = builder.Build();
        await host.StartAsync();
        return new ClientHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _host.StopAsync(cts.Token);
        }
        catch (Exception)
        {
            // the cluster may be gone
        }
        _host.Dispose();
    }
}

/// <summary>A host lifetime that neither listens for Ctrl+C/SIGTERM nor holds the process's exit back for the host.</summary>
internal sealed class ProcessOwnedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
