using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Grains.Tests;

/// <summary>Starts test clusters hosting the session grains on a manual grain clock.</summary>
internal static class SessionCluster
{
    /// <summary>The seed timeline's start: 2026-01-01 14:00 UTC.</summary>
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 14, 0, 0, TimeSpan.Zero);

    /// <summary>How long a condition may take to become true (asynchronous timers, one-way calls, events).</summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    public static async Task<TestCluster> StartAsync(
        ManualTimeProvider time,
        IReadOnlyDictionary<string, string>? configuration = null,
        int silos = 1,
        InMemorySessionDeadlineIndex? index = null)
    {
        var builder = new TestClusterBuilder(initialSilosCount: silos);
        builder.UseGrainTimeProvider(time);
        // One index for all silos of the cluster, as they share grain storage: the janitor of any silo must see
        // the rows written by sessions on every other (the in-memory default is per process).
        index ??= new InMemorySessionDeadlineIndex();
        builder.ConfigureSilo(silo =>
        {
            silo.Services.AddSingleton<ISessionDeadlineIndex>(index);
            silo.AddSessionGrains();
        });
        // Idle collection measures idleness on the grain clock: keep it out of tests that jump the clock by
        // hours, so that only the tests that ask for a collection (ForceActivationCollectionAsync) get one.
        if (configuration is null || !configuration.ContainsKey("GrainCollection:CollectionAge"))
        {
            builder.AddConfiguration("GrainCollection:CollectionAge", "3650.00:00:00");
        }
        if (configuration is not null)
        {
            foreach (var (key, value) in configuration)
            {
                builder.AddConfiguration(key, value);
            }
        }
        return await builder.BuildAndStartAsync();
    }

    public static Task WaitUntilAsync(Func<Task<bool>> condition) => TestCluster.WaitUntilAsync(condition, WaitLimit);

    public static Task WaitUntilAsync(Func<bool> condition) => TestCluster.WaitUntilAsync(() => Task.FromResult(condition()), WaitLimit);

    /// <summary>Sweeps every janitor partition (default Janitor:Partitions) and returns the total expired.</summary>
    public static Task<int> RunJanitorsAsync(IGrainFactory grains, int partitions = 8) => JanitorStartup.RunJanitorsAsync(grains, partitions);
}

/// <summary>Records every session event the client receives.</summary>
internal sealed class EventRecorder : IAsyncDisposable
{
    private readonly ConcurrentQueue<SessionEvent> _events = new();
    private IAsyncDisposable? _subscription;

    public static async Task<EventRecorder> SubscribeAsync(IClusterClient client)
    {
        var recorder = new EventRecorder();
        recorder._subscription = await client.SubscribeAsync<SessionEvent>(SessionTopics.Events, evt =>
        {
            recorder._events.Enqueue(evt);
            return ValueTask.CompletedTask;
        });
        return recorder;
    }

    public IReadOnlyList<SessionEvent> All => _events.ToArray();

    public List<SessionEvent> Of(string sessionId, SessionEventType type)
        => _events.Where(e => e.Session.SessionId == sessionId && e.Type == type).ToList();

    public int Count(SessionEventType type) => _events.Count(e => e.Type == type);

    public async ValueTask DisposeAsync()
    {
        if (_subscription is not null)
        {
            await _subscription.DisposeAsync();
        }
    }
}
