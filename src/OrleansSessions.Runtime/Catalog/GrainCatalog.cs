using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Events;
using OrleansSessions.Hosting;
using OrleansSessions.Runtime.Events;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.Runtime.Reminders;
using OrleansSessions.Runtime.Timers;

namespace OrleansSessions.Runtime.Catalog;

/// <summary>
/// The activations of this silo, one per grain identity, and the factories of the grain classes it hosts.
/// </summary>
internal sealed class GrainCatalog
{
    private readonly ConcurrentDictionary<GrainId, ActivationData> _activations = new();
    private readonly Dictionary<int, Func<IServiceProvider, IGrainContext, object>> _factories = [];
    private readonly IServiceProvider _services;
    private SiloRuntimeClient? _runtimeClient;
    private EventHub? _events;
    private ReminderService? _reminderService;

    public GrainCatalog(IServiceProvider services, IEnumerable<GrainClassRegistration> registrations, GrainClock grainClock, TimerScheduler timerScheduler,
        IOptions<GrainCollectionOptions> collectionOptions, ILogger<GrainCatalog> logger)
    {
        _services = services;
        GrainClock = grainClock.TimeProvider;
        _systemClock = ReferenceEquals(GrainClock, TimeProvider.System);
        _idleClockBaseUtcTicks = GrainClock.GetUtcNow().UtcTicks;
        _idleClockBaseMilliseconds = Environment.TickCount64;
        TimerScheduler = timerScheduler;
        Logger = logger;
        DeactivationTimeout = collectionOptions.Value.DeactivationTimeout;
        foreach (var registration in registrations)
        {
            GrainInterfaceRegistry.EnsureModuleRegistered(registration.InterfaceType);
            var interfaceId = GrainInterfaceRegistry.ComputeInterfaceId(registration.InterfaceType.FullName!);
            _factories[interfaceId] = CreateFactory(registration.GrainClass);
        }
    }

    public TimeProvider GrainClock { get; }

    private readonly bool _systemClock;
    private readonly long _idleClockBaseUtcTicks;
    private readonly long _idleClockBaseMilliseconds;

    /// <summary>
    /// Grain time in ticks for idle tracking, read on every turn. On the system clock it is derived from the
    /// cheap millisecond tick count (a vDSO clock read per call was a measurable part of a touch); on any other
    /// clock (a manual one in tests) it is that clock. Only differences of these values are ever used.
    /// </summary>
    public long IdleClockTicks() => _systemClock
        ? _idleClockBaseUtcTicks + (Environment.TickCount64 - _idleClockBaseMilliseconds) * TimeSpan.TicksPerMillisecond
        : GrainClock.GetUtcNow().UtcTicks;

    public TimerScheduler TimerScheduler { get; }

    public ILogger Logger { get; }

    public TimeSpan ActivationTimeout { get; } = TimeSpan.FromSeconds(30);

    public TimeSpan DeactivationTimeout { get; }

    public IServiceProvider Services => _services;

    public SiloRuntimeClient RuntimeClient => _runtimeClient ??= _services.GetRequiredService<SiloRuntimeClient>();

    public EventHub Events => _events ??= _services.GetRequiredService<EventHub>();

    public ReminderService ReminderService => _reminderService ??= _services.GetRequiredService<ReminderService>();

    public int Count => _activations.Count;

    /// <summary>Raised after an activation completes OnActivateAsync.</summary>
    public event Action<ActivationData>? Activated;

    public ActivationData GetOrCreate(GrainId grainId)
    {
        if (_activations.TryGetValue(grainId, out var existing))
        {
            return existing;
        }
        if (!_factories.ContainsKey(grainId.InterfaceId))
        {
            throw new InvalidOperationException($"No grain class is registered for {GrainInterfaceRegistry.GetName(grainId.InterfaceId)}.");
        }
        return _activations.GetOrAdd(grainId, static (id, catalog) => new ActivationData(id, catalog), this);
    }

    public ActivationData? Find(GrainId grainId) => _activations.GetValueOrDefault(grainId);

    /// <summary>
    /// Every activation, enumerated without a snapshot: <c>ConcurrentDictionary.Values</c> would hold every lock of
    /// the dictionary while it copies a million entries, stopping activations from being created or removed.
    /// </summary>
    public IEnumerable<ActivationData> All
    {
        get
        {
            foreach (var pair in _activations)
            {
                yield return pair.Value;
            }
        }
    }

    public int CountOf(int interfaceId)
    {
        var count = 0;
        foreach (var pair in _activations)
        {
            if (pair.Key.InterfaceId == interfaceId)
            {
                count++;
            }
        }
        return count;
    }

    internal void Remove(ActivationData activation)
        => _activations.TryRemove(new KeyValuePair<GrainId, ActivationData>(activation.GrainId, activation));

    internal void OnActivated(ActivationData activation) => Activated?.Invoke(activation);

    internal Func<IServiceProvider, IGrainContext, object> GetFactory(int interfaceId)
        => _factories.TryGetValue(interfaceId, out var factory)
            ? factory
            : throw new InvalidOperationException($"No grain class is registered for {GrainInterfaceRegistry.GetName(interfaceId)}.");

    /// <summary>Deactivates every activation (graceful shutdown or ownership change).</summary>
    public async Task DeactivateAsync(Func<ActivationData, bool> predicate, DeactivationReason reason, CancellationToken cancellationToken)
    {
        var tasks = new List<Task>();
        foreach (var activation in All)
        {
            if (predicate(activation))
            {
                tasks.Add(activation.DeactivateAsync(reason));
            }
        }
        await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Drops every activation without running grain code (kill).</summary>
    public void AbortAll()
    {
        foreach (var activation in All)
        {
            activation.Abort();
        }
        _activations.Clear();
    }

    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Grain classes are registered explicitly.")]
    private static Func<IServiceProvider, IGrainContext, object> CreateFactory(Type grainClass)
    {
        var wantsContext = false;
        foreach (var ctor in grainClass.GetConstructors())
        {
            foreach (var parameter in ctor.GetParameters())
            {
                if (parameter.ParameterType == typeof(IGrainContext))
                {
                    wantsContext = true;
                }
            }
        }
        if (wantsContext)
        {
            var factory = ActivatorUtilities.CreateFactory(grainClass, [typeof(IGrainContext)]);
            return (services, context) => factory(services, [context]);
        }
        var plain = ActivatorUtilities.CreateFactory(grainClass, Type.EmptyTypes);
        return (services, _) => plain(services, null);
    }
}
