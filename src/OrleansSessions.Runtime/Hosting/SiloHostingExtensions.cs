using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansSessions.Events;
using OrleansSessions.Hosting;
using OrleansSessions.Messaging;
using OrleansSessions.Runtime.Catalog;
using OrleansSessions.Runtime.Events;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Messaging;
using OrleansSessions.Runtime.Reminders;
using OrleansSessions.Runtime.Storage;
using OrleansSessions.Runtime.Timers;
using OrleansSessions.Storage;

namespace OrleansSessions.Runtime.Hosting;

/// <summary>Adds a silo to a web application: the runtime services and the Kestrel endpoints of the silo and gateway ports.</summary>
public static class SiloHostingExtensions
{
    /// <summary>
    /// Hosts a silo in this application. Binds the Silo, Cluster, Security, Messaging, GrainCollection,
    /// Membership and Reminders configuration sections, listens on Silo:SiloPort and Silo:GatewayPort
    /// (and Silo:HttpPort for HTTP when it is not 0), and runs <paramref name="configure"/> to add grains and providers.
    /// In-memory membership, reminders and storage are the defaults; providers registered by <paramref name="configure"/> replace them.
    /// </summary>
    public static WebApplicationBuilder UseOrleansSessionsSilo(this WebApplicationBuilder builder, Action<ISiloBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var silo = AddSiloServices(builder.Services, builder.Configuration);
        configure?.Invoke(silo);
        AddDefaultProviders(builder.Services);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<SiloOptions>>().Value;
            var address = ResolveAddress(options.Host);
            kestrel.Listen(address, options.SiloPort, listen => listen.UseConnectionHandler<SiloConnectionHandler>());
            kestrel.Listen(address, options.GatewayPort, listen => listen.UseConnectionHandler<GatewayConnectionHandler>());
            if (options.HttpPort > 0)
            {
                kestrel.Listen(address, options.HttpPort);
            }
        });
        return builder;
    }

    private static IPAddress ResolveAddress(string host)
    {
        if (IPAddress.TryParse(host, out var address))
        {
            return address;
        }
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }
        var addresses = Dns.GetHostAddresses(host);
        return addresses.Length > 0 ? addresses[0] : throw new InvalidOperationException($"Silo:Host '{host}' does not resolve to an address.");
    }

    private static SiloBuilder AddSiloServices(IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<SiloOptions>(configuration.GetSection("Silo"));
        services.Configure<ClusterOptions>(configuration.GetSection("Cluster"));
        services.Configure<SecurityOptions>(configuration.GetSection("Security"));
        services.Configure<MessagingOptions>(configuration.GetSection("Messaging"));
        services.Configure<GrainCollectionOptions>(configuration.GetSection("GrainCollection"));
        services.Configure<MembershipOptions>(configuration.GetSection("Membership"));
        services.Configure<ReminderOptions>(configuration.GetSection("Reminders"));
        services.AddSingleton<SiloOptionsValidator>();
        services.AddSingleton<IValidateOptions<SiloOptions>>(sp => sp.GetRequiredService<SiloOptionsValidator>());
        services.AddSingleton<IValidateOptions<ClusterOptions>>(sp => sp.GetRequiredService<SiloOptionsValidator>());
        services.AddSingleton<IValidateOptions<MessagingOptions>>(sp => sp.GetRequiredService<SiloOptionsValidator>());
        services.AddSingleton<IValidateOptions<GrainCollectionOptions>>(sp => sp.GetRequiredService<SiloOptionsValidator>());
        services.AddOptions<SiloOptions>().ValidateOnStart();
        services.AddOptions<ClusterOptions>().ValidateOnStart();
        services.AddOptions<MessagingOptions>().ValidateOnStart();
        services.AddOptions<GrainCollectionOptions>().ValidateOnStart();

        services.TryAddSingleton(new GrainClock(TimeProvider.System));
        services.AddSingleton(sp => new TimerScheduler(sp.GetRequiredService<GrainClock>().TimeProvider));
        services.AddSingleton<LocalSilo>();
        services.AddSingleton<Silo>();
        services.AddSingleton<GrainCatalog>();
        services.AddSingleton<ActivationCollector>();
        services.AddSingleton<ConnectionManager>();
        services.AddSingleton<MembershipService>();
        services.AddSingleton<SiloRuntimeClient>();
        services.AddSingleton<SiloMessageHandler>();
        services.AddSingleton<InboundConnectionAcceptor>();
        services.AddSingleton<EventHub>();
        services.AddSingleton<IEventPublisher>(sp => sp.GetRequiredService<EventHub>());
        services.AddSingleton<ReminderService>();
        services.AddSingleton<IPersistentStateFactory, PersistentStateFactory>();
        services.AddSingleton<HostedClusterClient>();
        services.AddSingleton<IClusterClient>(sp => sp.GetRequiredService<HostedClusterClient>());
        services.AddSingleton<IGrainFactory>(sp => sp.GetRequiredService<HostedClusterClient>());
        services.AddHostedService<SiloLifecycleService>();
        return new SiloBuilder(services, configuration);
    }

    private static void AddDefaultProviders(IServiceCollection services)
    {
        services.TryAddSingleton<IMembershipTable, InMemoryMembershipTable>();
        services.TryAddSingleton<IReminderTable, InMemoryReminderTable>();
        services.TryAddSingleton<IGrainStorage, MemoryGrainStorage>();
    }

    /// <summary>Uses <paramref name="timeProvider"/> as grain time (grains, grain timers, reminders). Infrastructure stays on real time.</summary>
    public static ISiloBuilder UseGrainTimeProvider(this ISiloBuilder builder, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.RemoveAll<GrainClock>();
        builder.Services.AddSingleton(new GrainClock(timeProvider));
        return builder;
    }
}
