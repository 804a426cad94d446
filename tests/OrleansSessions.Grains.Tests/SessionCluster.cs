using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.Streams;
using Orleans.TestingHost;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Hosting;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>Starts Orleans in-process test clusters hosting the session grains, grain time on a fake clock.</summary>
internal static class SessionCluster
{
    /// <summary>The seed timeline's start: 2026-01-01 14:00 UTC.</summary>
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 14, 0, 0, TimeSpan.Zero);

    /// <summary>How long a condition may take to become true (timer turns, one-way calls, stream delivery).</summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A cluster of <paramref name="silos"/> silos with the session grains, in-memory storage, reminders and streams.
    /// Grain time (the domain grains' timers and the TimeProvider they are given) is <paramref name="time"/>; Orleans'
    /// own areas (membership, messaging, reminders' schedule, stream polling) stay on real time, as Orleans' tests do.
    /// All silos share one grain storage, one deadline index and one event log, as silos on a database would.
    /// </summary>
    public static async Task<InProcessTestCluster> StartAsync(
        TimeProvider time,
        IReadOnlyDictionary<string, string>? configuration = null,
        int silos = 1,
        InMemorySessionDeadlineIndex? index = null,
        SharedGrainStorage.Store? store = null,
        Action<ISiloBuilder>? configureSilo = null,
        InMemorySessionEventLog? eventLog = null)
    {
        index ??= new InMemorySessionDeadlineIndex();
        eventLog ??= new InMemorySessionEventLog();
        store ??= new SharedGrainStorage.Store();
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureHost(host =>
        {
            var values = new Dictionary<string, string?>(StringComparer.Ordinal);
            if (configuration is not null)
            {
                foreach (var (key, value) in configuration)
                {
                    values[key] = value;
                }
            }
            host.Configuration.AddInMemoryCollection(values);
        });
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton(time);
            silo.Services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
            if (time is FakeTimeProvider fake)
            {
                silo.Services.AddKeyedSingleton<TimeProvider>("Orleans.Grains", (sp, _) => new GrainClock(fake, sp));
            }
            silo.Services.AddSingleton<ISessionDeadlineIndex>(index);
            silo.Services.AddSingleton<ISessionEventLog>(eventLog);
            silo.Services.AddKeyedSingleton<IGrainStorage>(SessionStorage.Name, (sp, _) => new SharedGrainStorage(store, sp.GetRequiredService<Serializer>()));
            silo.Services.AddKeyedSingleton<IGrainStorage>("PubSubStore", (sp, _) => new SharedGrainStorage(store, sp.GetRequiredService<Serializer>()));
            silo.UseInMemoryReminderService();
            silo.AddOrleansSessions();
            // Fast failure detection for the tests that kill a silo.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
            });
            configureSilo?.Invoke(silo);
        });
        builder.ConfigureClient(client => client.AddMemoryStreams(SessionStreams.ProviderName));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <summary>Waits until <paramref name="sessionId"/> answers not-found (forgetting is one-way).</summary>
    public static Task WaitUntilForgottenAsync(IGrainFactory grains, string sessionId) => Wait.UntilAsync(async () =>
    {
        try
        {
            await grains.GetGrain<ISessionGrain>(sessionId).GetAsync();
            return false;
        }
        catch (SessionNotFoundException)
        {
            return true;
        }
    }, what: $"{sessionId} forgotten");

    /// <summary>Sweeps every janitor partition (default Janitor:Partitions) and returns the total expired.</summary>
    public static Task<int> RunJanitorsAsync(IGrainFactory grains, int partitions = 8) => Janitors.RunAsync(grains, partitions);

    /// <summary>How many sessions' rows <paramref name="index"/> holds in <paramref name="partitions"/> partitions (users' history-retention rows not counted).</summary>
    public static async Task<int> SessionRowsAsync(InMemorySessionDeadlineIndex index, int partitions = 8)
    {
        var count = 0;
        for (var partition = 0; partition < partitions; partition++)
        {
            foreach (var row in await index.ReadDueAsync(partition, DateTimeOffset.MaxValue, int.MaxValue))
            {
                if (DeadlineKeys.HistoryUser(row.SessionId) is null)
                {
                    count++;
                }
            }
        }
        return count;
    }

    /// <summary>The history-retention row of <paramref name="userId"/> in <paramref name="index"/>, or null; read in the partition its key maps to.</summary>
    public static async Task<SessionDeadlineEntry?> HistoryRowAsync(ISessionDeadlineIndex index, string userId, int partitions = 8)
    {
        var key = DeadlineKeys.History(userId);
        foreach (var row in await index.ReadDueAsync(SessionDeadlinePartitioner.GetPartition(key, partitions), DateTimeOffset.MaxValue, int.MaxValue))
        {
            if (row.SessionId == key)
            {
                return row;
            }
        }
        return null;
    }

    /// <summary>The session metrics of one silo.</summary>
    public static SessionMetrics Metrics(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<SessionMetrics>();

    /// <summary>How many activations of grain class <typeparamref name="TGrain"/> the cluster holds, from Orleans' management grain.</summary>
    public static async Task<int> ActivationCountAsync<TGrain>(InProcessTestCluster cluster)
    {
        var stats = await cluster.Client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        var name = typeof(TGrain).FullName!;
        return stats.Where(s => s.GrainType.Contains(name, StringComparison.Ordinal)).Sum(s => s.ActivationCount);
    }

    /// <summary>Deactivates the grain's activation (wherever it is) and waits until it is gone.</summary>
    public static async Task DeactivateAsync(InProcessTestCluster cluster, IAddressable grain)
    {
        await cluster.DeactivateAsync(grain);
        await cluster.WaitForDeactivationAsync(grain);
    }
}

/// <summary>Records every session event the cluster client receives from the events stream.</summary>
internal sealed class EventRecorder : IAsyncDisposable
{
    private readonly ConcurrentQueue<SessionEvent> _events = new();
    private StreamSubscriptionHandle<SessionEvent>? _subscription;

    public static async Task<EventRecorder> SubscribeAsync(IClusterClient client)
    {
        var recorder = new EventRecorder();
        var stream = client.GetStreamProvider(SessionStreams.ProviderName).GetStream<SessionEvent>(SessionStreams.Namespace, SessionStreams.EventsKey);
        recorder._subscription = await stream.SubscribeAsync((evt, _) =>
        {
            recorder._events.Enqueue(evt);
            return Task.CompletedTask;
        });
        return recorder;
    }

    public IReadOnlyList<SessionEvent> All => _events.ToArray();

    public List<SessionEvent> Of(string sessionId, SessionEventType type)
        => _events.Where(e => e.Session.SessionId == sessionId && e.Type == type).ToList();

    public List<SessionEvent> Of(string sessionId) => _events.Where(e => e.Session.SessionId == sessionId).ToList();

    public int Count(SessionEventType type) => _events.Count(e => e.Type == type);

    public async ValueTask DisposeAsync()
    {
        if (_subscription is not null)
        {
            try
            {
                await _subscription.UnsubscribeAsync();
            }
            catch (Exception)
            {
                // The cluster may already be gone.
            }
        }
    }
}
