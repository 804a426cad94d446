using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansSessions.Grains;
using OrleansSessions.Hosting;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>Builds the silo host of <c>dotnet run --project silo</c>: an ASP.NET Core app hosting one Orleans silo.</summary>
public static class SiloHostExtensions
{
    /// <summary>
    /// Adds the configuration sources of the contract (appsettings.json, OrleansSessions__Section__Key environment
    /// variables, --Section:Key=value arguments, the later winning), the Orleans silo with the session grains on the
    /// storage of Storage:Provider, Kestrel on Silo:Host:Silo:HttpPort, and the HTTP API and dashboard services; with
    /// Security:Certificate, mutual TLS on the silo and gateway ports and HTTPS on the HTTP port.
    /// </summary>
    /// <exception cref="SiloConfigurationException">A host key is invalid, a certificate cannot be loaded, a port is in use, or the host is exposed without a token or certificate.</exception>
    public static WebApplicationBuilder AddSessionSilo(this WebApplicationBuilder builder, string[] args)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Configuration.AddEnvironmentVariables("OrleansSessions__");
        // Arguments again, after the prefixed variables, so that the command line wins.
        builder.Configuration.AddCommandLine(args);
        // Startup failures are reported by Program in one line; the host's own error log would add a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        // Warnings that come once per connection from outside (failed handshakes) are bounded: a flood writes a few lines.
        ConnectionLogRateLimit.AddTo(builder.Logging);

        var settings = SiloSettings.AddTo(builder.Services, builder.Configuration);
        var telemetry = OpenTelemetrySettings.AddTo(builder.Services, builder.Configuration);
        settings.ThrowIfPortsInUse();

        ConfigureHttp(builder, settings);
        builder.UseOrleans(silo =>
        {
            // First, so that the connection caps sit ahead of any other connection middleware (TLS).
            ConnectionLimiter.AddTo(silo, builder.Configuration);
            silo.AddSessionSilo(settings);
            silo.AddSessionObservability(telemetry, builder.Configuration);
        });
        builder.Services.AddOrleansSessionsApi(o =>
        {
            o.HttpPort = settings.HttpPort;
            o.OrleansDashboardPath = telemetry.OrleansDashboard ? ObservabilityAccess.DashboardPath + "/" : null;
        });
        if (settings.StorageProvider == "memory" && builder.Configuration["Sessions:PersistTouches"] is null)
        {
            // The state lives in this process like the activations: a write per touch would survive nothing more.
            builder.Services.PostConfigure<OrleansSessions.Grains.Options.SessionOptions>(o => o.PersistTouches = false);
        }
        builder.AddSessionObservability(settings, telemetry);
        return builder;
    }

    /// <summary>
    /// Maps the HTTP API, /healthz, the OpenAPI document and the session dashboard at / (OrleansSessions.AspNetCore),
    /// behind the silo's request guards and the ApiToken scheme, and Orleans' dashboard at /orleans and /metrics.
    /// </summary>
    public static WebApplication MapSessionSilo(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseSessionApiGuards();
        // After the guards, as the token check always was: a malformed request is answered as such first.
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapOrleansSessionsApi().RequireJsonBody();
        app.MapSessionObservability();
        return app;
    }

    private static void ConfigureHttp(WebApplicationBuilder builder, SiloSettings settings)
    {
        if (settings.HttpPort == 0)
        {
            // Silo:HttpPort=0: no HTTP at all (Kestrel would otherwise fall back to localhost:5000).
            builder.Services.AddSingleton<IServer, NoHttpServer>();
            return;
        }
        builder.WebHost.UseUrls();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(settings.Host, settings.HttpPort, listen =>
        {
            if (settings.Certificates is { } certificates)
            {
                // HTTPS with the silo's certificate; callers authenticate with Security:ApiToken, not a certificate.
                listen.UseHttps(certificates.Certificate);
            }
        }));
        HttpLimits.Configure(builder);
    }

    private static void AddSessionSilo(this ISiloBuilder silo, SiloSettings settings)
    {
        silo.AddOrleansSessions();
        switch (settings.StorageProvider)
        {
            case "postgres":
                UsePostgreSql(silo, settings);
                break;
            case "redis":
                UseRedis(silo, settings);
                break;
            default:
                // One silo, nothing to install: the development membership on this silo, state and reminders in memory.
                silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, new IPEndPoint(settings.AdvertisedAddress, settings.SiloPort), SiloSettings.ServiceId, settings.ClusterId);
                AddMemoryStorage(silo, SessionStorage.Name);
                silo.AddMemoryGrainStorage("PubSubStore");
                silo.UseInMemoryReminderService();
                break;
        }

        silo.Configure<ClusterOptions>(o =>
        {
            o.ServiceId = SiloSettings.ServiceId;
            o.ClusterId = settings.ClusterId;
        });
        silo.Configure<EndpointOptions>(o =>
        {
            o.AdvertisedIPAddress = settings.AdvertisedAddress;
            o.SiloPort = settings.SiloPort;
            o.GatewayPort = settings.GatewayPort;
            o.SiloListeningEndpoint = new IPEndPoint(settings.Host, settings.SiloPort);
            o.GatewayListeningEndpoint = new IPEndPoint(settings.Host, settings.GatewayPort);
        });
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = settings.ProbeTimeout;
            o.NumMissedProbesLimit = settings.NumMissedProbesLimit;
            o.NumProbedSilos = settings.NumProbedSilos;
            o.NumVotesForDeathDeclaration = Math.Min(o.NumVotesForDeathDeclaration, settings.NumProbedSilos);
            o.TableRefreshTimeout = settings.TableRefreshPeriod;
            o.IAmAliveTablePublishTimeout = settings.IAmAlivePeriod;
            o.NumMissedTableIAmAliveLimit = (int)Math.Ceiling(settings.IAmAliveTimeout / settings.IAmAlivePeriod);
        });
        silo.Configure<GrainCollectionOptions>(o =>
        {
            o.CollectionAge = settings.CollectionAge;
            o.CollectionQuantum = settings.CollectionQuantum;
        });
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = settings.ResponseTimeout);
        silo.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = settings.ResponseTimeout);
        // Configure runs before AddOrleansSessions' PostConfigure, which may still lower the minimum to Janitor:Period.
        silo.Configure<ReminderOptions>(o =>
        {
            o.MinimumReminderPeriod = settings.MinimumReminderPeriod;
            o.RefreshReminderListPeriod = settings.ReminderRefreshPeriod;
        });

        // The handshake clock starts at accept, ahead of TLS; the preamble is awaited after TLS, in plaintext.
        HandshakeTimeout.StartClock(silo);
        if (settings.Certificates is { } tls)
        {
            silo.UseClusterTls(tls, settings.HandshakeTimeout);
        }
        HandshakeTimeout.AwaitPreamble(silo, settings.HandshakeTimeout);

        silo.Services.AddSingleton<SiloLifecycleLog>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloLifecycleLog>());
    }

    // Clustering, reminders, grain storage (incl. PubSubStore) and the deadline index on PostgreSQL; the schema is applied at start.
    private static void UsePostgreSql(ISiloBuilder silo, SiloSettings settings)
    {
        try
        {
            silo.UseOrleansSessionsPostgreSql(settings.ConnectionString);
        }
        catch (ArgumentException ex)
        {
            throw new SiloConfigurationException(WithoutParameter(ex), ex);
        }
    }

    // Clustering, reminders, grain storage (incl. PubSubStore) and the deadline index on Redis; connected at start.
    private static void UseRedis(ISiloBuilder silo, SiloSettings settings)
    {
        try
        {
            silo.UseOrleansSessionsRedis(settings.ConnectionString);
        }
        catch (ArgumentException ex)
        {
            throw new SiloConfigurationException(WithoutParameter(ex), ex);
        }
    }

    private static string WithoutParameter(ArgumentException ex)
        => ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal);

    /// <summary>
    /// Orleans' memory grain storage with Orleans' binary serializer instead of its default JSON with type names: nothing
    /// in memory outlives the process, and a stored session state takes 165 bytes instead of 389 (a user state 61
    /// instead of 204). The bench's in-process silos use the same (bench Infrastructure/OrleansHosts.cs).
    /// </summary>
    internal static void AddMemoryStorage(ISiloBuilder silo, string name)
    {
        silo.AddMemoryGrainStorage(name);
        silo.Services.AddOptions<MemoryGrainStorageOptions>(name)
            .PostConfigure<Serializer>((o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
    }
}
