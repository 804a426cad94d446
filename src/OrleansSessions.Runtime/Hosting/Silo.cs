using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Runtime.Catalog;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Placement;

namespace OrleansSessions.Runtime.Hosting;

/// <summary>A handle on the running silo of this host: its identity, its activations and a few operations for hosts and tests.</summary>
public sealed class Silo
{
    private readonly IServiceProvider _services;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Created by the container.</summary>
    public Silo(LocalSilo local, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(local);
        Local = local;
        _services = services;
    }

    /// <summary>This silo's identity.</summary>
    public LocalSilo Local { get; }

    /// <summary>This silo's address.</summary>
    public SiloAddress Address => Local.Address;

    /// <summary>Completes when the silo is active in the cluster.</summary>
    public Task Started => _started.Task;

    /// <summary>True after <see cref="Kill"/>: the next stop skips every graceful step.</summary>
    public bool IsKilled { get; private set; }

    /// <summary>The number of activations on this silo.</summary>
    public int ActivationCount => Catalog.Count;

    /// <summary>The number of activations of one grain interface on this silo.</summary>
    public int ActivationCountOf<TGrainInterface>() where TGrainInterface : IGrain
        => Catalog.CountOf(GrainInterfaceRegistry.GetInterfaceId<TGrainInterface>());

    /// <summary>True when an activation of the grain exists on this silo.</summary>
    public bool HasActivation<TGrainInterface>(string key) where TGrainInterface : IGrain
        => Catalog.Find(new GrainId(GrainInterfaceRegistry.GetInterfaceId<TGrainInterface>(), key)) is not null;

    /// <summary>The active silos as this silo sees them.</summary>
    public IReadOnlyList<SiloAddress> ActiveSilos => _services.GetRequiredService<MembershipService>().Ring.Silos;

    /// <summary>The membership table rows as last read.</summary>
    public IReadOnlyList<MembershipEntry> MembershipEntries => _services.GetRequiredService<MembershipService>().Snapshot.Entries;

    /// <summary>The number of reminders this silo currently delivers.</summary>
    public int OwnedReminderCount => _services.GetRequiredService<Reminders.ReminderService>().OwnedCount;

    /// <summary>Deactivates every activation idle for at least <paramref name="age"/> now, instead of waiting for the next collection quantum.</summary>
    public Task<int> CollectIdleActivationsAsync(TimeSpan age)
        => _services.GetRequiredService<ActivationCollector>().CollectAsync(age, CancellationToken.None);

    /// <summary>Deactivates every activation without queued work that was unused for <paramref name="age"/>, even those kept alive by timers or DelayDeactivation (Orleans' ForceActivationCollection).</summary>
    public Task<int> ForceActivationCollectionAsync(TimeSpan age)
        => _services.GetRequiredService<ActivationCollector>().CollectAsync(age, CancellationToken.None, ignoreKeepAlive: true);

    /// <summary>Reads the membership table now.</summary>
    public Task RefreshMembershipAsync() => _services.GetRequiredService<MembershipService>().RefreshAsync(CancellationToken.None);

    /// <summary>Marks the silo as killed: stopping it afterwards drops everything without leaving membership or deactivating grains, as a crash would.</summary>
    public void Kill() => IsKilled = true;

    internal HashRing Ring => _services.GetRequiredService<MembershipService>().Ring;

    private GrainCatalog Catalog => _services.GetRequiredService<GrainCatalog>();

    internal void MarkStarted() => _started.TrySetResult();
}
