using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Providers;
using Orleans.Storage;
using OrleansSessions.Grains;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Hosting;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Silos;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;
using OrleansSessions.Silos;

namespace OrleansSessions.Hosting;

/// <summary>Registers the session domain on an Orleans silo.</summary>
public static class SiloBuilderSessionExtensions
{
    /// <summary>
    /// Hosts the session, user-sessions and janitor grains on this silo:
    /// <list type="bullet">
    /// <item><see cref="SessionOptions"/> and <see cref="JanitorOptions"/> bound from the configuration sections "Sessions"
    /// and "Janitor" and validated at start (each failure names its key);</item>
    /// <item>the in-memory <see cref="ISessionDeadlineIndex"/> and <see cref="ISessionEventLog"/> unless registered (a durable backend registers its own);</item>
    /// <item>the memory stream provider <see cref="SessionStreams.ProviderName"/> that carries session events;</item>
    /// <item>a grain call filter that turns storage-driver failures into <see cref="SessionStorageUnavailableException"/>;</item>
    /// <item>a grain service on every silo giving its session figures and their last 10 minutes
    /// (<see cref="ISiloSessionsGrain"/>), and <see cref="ILocalSiloStatus"/>;</item>
    /// <item>the janitor reminders, registered by a startup task; a Janitor:Period below Orleans' minimum reminder period
    /// lowers that minimum.</item>
    /// </list>
    /// The host provides a reminder service and grain storage: the storage named <see cref="SessionStorage.Name"/>
    /// (and "PubSubStore" for the stream's subscriptions) when registered, before or after this call, otherwise the
    /// host's default grain storage. Clustering is the host's. Calling it twice does nothing more.
    /// </summary>
    public static ISiloBuilder AddOrleansSessions(this ISiloBuilder builder) => builder.AddOrleansSessions(null, null);

    /// <summary>
    /// As <see cref="AddOrleansSessions(ISiloBuilder)"/>, with options set in code: <paramref name="sessions"/> and
    /// <paramref name="janitor"/> run after the configuration sections are bound (so they win), before validation.
    /// </summary>
    public static ISiloBuilder AddOrleansSessions(this ISiloBuilder builder, Action<SessionOptions>? sessions, Action<JanitorOptions>? janitor = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(SessionServices))
            {
                return Configure(builder, sessions, janitor);
            }
        }

        services.AddOptions<SessionOptions>().BindConfiguration(SessionOptions.SectionName).ValidateOnStart();
        services.AddOptions<JanitorOptions>().BindConfiguration(JanitorOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SessionOptions>, SessionOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JanitorOptions>, JanitorOptionsValidator>());
        services.AddOptions<EventLogOptions>().BindConfiguration(EventLogOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EventLogOptions>, EventLogOptionsValidator>());
        services.AddOptions<ReminderOptions>().PostConfigure<IOptions<JanitorOptions>>((reminders, janitor) =>
        {
            var period = janitor.Value.Period;
            if (period > TimeSpan.Zero && period < reminders.MinimumReminderPeriod)
            {
                reminders.MinimumReminderPeriod = period;
            }
        });

        services.AddOptions<GrainCollectionOptions>().PostConfigure<IOptions<SessionOptions>>((collection, sessions) =>
            ConfigureDormancy(collection, sessions.Value.DormantAfter));

        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ISessionDeadlineIndex, InMemorySessionDeadlineIndex>();
        services.TryAddSingleton<ISessionEventLog>(sp => new InMemorySessionEventLog(sp.GetRequiredService<IOptions<EventLogOptions>>().Value.MemoryLimit));
        services.TryAddSingleton<SessionMetrics>();
        services.AddSingleton<SessionServices>();
        services.AddOptions<SiloSessionsOptions>();
        services.AddGrainService<SiloSessionsService>();
        services.AddSingleton<ISiloSessionsClient, SiloSessionsClient>();
        services.AddSingleton<ILocalSiloStatus, LocalSiloStatus>();
        AddStorageFallback(services, SessionStorage.Name);
        AddStorageFallback(services, ProviderConstants.DEFAULT_PUBSUB_PROVIDER_NAME);

        builder.AddIncomingGrainCallFilter<StorageFailureFilter>();
        builder.AddMemoryStreams(SessionStreams.ProviderName);
        builder.AddStartupTask<JanitorStartupTask>();
        return Configure(builder, sessions, janitor);
    }

    // After the configuration binding registered above: options set in code win over the sections.
    private static ISiloBuilder Configure(ISiloBuilder builder, Action<SessionOptions>? sessions, Action<JanitorOptions>? janitor)
    {
        if (sessions is not null)
        {
            builder.Services.Configure(sessions);
        }
        if (janitor is not null)
        {
            builder.Services.Configure(janitor);
        }
        return builder;
    }

    /// <summary>
    /// Dormancy is Orleans' idle collection: the session and user grain types get Sessions:DormantAfter as their
    /// collection age (a live session keeps itself only once its warning is out), and the collection quantum is
    /// lowered to half of it when it is longer, as Orleans requires an age above the quantum. With dormancy off a live
    /// session keeps its activation until its deadline; activations that read ended sessions go after 2 minutes.
    /// </summary>
    internal static void ConfigureDormancy(GrainCollectionOptions collection, TimeSpan dormantAfter)
    {
        var age = dormantAfter > TimeSpan.Zero ? dormantAfter : EndedSessionAge;
        collection.ClassSpecificCollectionAge[typeof(SessionGrain).FullName!] = age;
        if (dormantAfter > TimeSpan.Zero)
        {
            collection.ClassSpecificCollectionAge[typeof(UserSessionsGrain).FullName!] = age;
        }
        if (collection.CollectionQuantum >= age)
        {
            collection.CollectionQuantum = age / 2;
        }
    }

    // How long an activation that read an ended session stays when dormancy is off.
    private static readonly TimeSpan EndedSessionAge = TimeSpan.FromMinutes(2);

    // A storage the host registers under this name, before or after this call, wins: Orleans' storage registrations
    // add a keyed singleton, and the last registration of a key is the one resolved.
    private static void AddStorageFallback(IServiceCollection services, string name)
        => services.TryAddKeyedSingleton<IGrainStorage>(name, (sp, _) =>
            sp.GetKeyedService<IGrainStorage>(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME) ?? sp.GetService<IGrainStorage>()
            ?? throw new InvalidOperationException(
                $"OrleansSessions needs grain storage: register one named \"{name}\" or a default one (e.g. siloBuilder.AddMemoryGrainStorage(\"{name}\") or AddMemoryGrainStorageAsDefault())."));
}
