using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Runtime.Catalog;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Messaging;
using OrleansSessions.Runtime.Reminders;

namespace OrleansSessions.Runtime.Hosting;

/// <summary>
/// Starts and stops the silo around the web host. Start: join membership (Joining), then once Kestrel
/// listens become Active and load reminders. Graceful stop: ShuttingDown (leave placement), deactivate
/// every activation (which persists its state), stop reminders, Dead, close connections. A killed silo
/// skips all of that, as a crash would.
/// </summary>
internal sealed partial class SiloLifecycleService(
    Silo silo,
    MembershipService membership,
    ReminderService reminders,
    GrainCatalog catalog,
    ActivationCollector collector,
    ConnectionManager connections,
    SiloRuntimeClient runtimeClient,
    IHostApplicationLifetime lifetime,
    IOptions<GrainCollectionOptions> collectionOptions,
    ILogger<SiloLifecycleService> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        membership.DeclaredDead += () => lifetime.StopApplication();
        await membership.JoinAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        await membership.BecomeActiveAsync(cancellationToken).ConfigureAwait(false);
        await reminders.StartAsync(cancellationToken).ConfigureAwait(false);
        membership.RingChanged += OnRingChanged;
        collector.Start();
        silo.MarkStarted();
        LogStarted(logger, silo.Address, silo.Local.GatewayPort);
    }

    private void OnRingChanged(Placement.HashRing ring)
    {
        // Grains whose hash now belongs to another silo move there: deactivate them here (state is persisted).
        var local = silo.Address;
        _ = catalog.DeactivateAsync(
            a => ring.Owner(a.GrainId.PlacementHash) is { } owner && owner != local,
            new DeactivationReason(DeactivationReasonCode.OwnershipChanged, "Another silo owns this grain now."),
            CancellationToken.None);
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        membership.RingChanged -= OnRingChanged;
        if (silo.IsKilled)
        {
            await membership.StopLoopsAsync().ConfigureAwait(false);
            await connections.CloseAllAsync().ConfigureAwait(false);
            catalog.AbortAll();
            await reminders.DisposeAsync().ConfigureAwait(false);
            await collector.DisposeAsync().ConfigureAwait(false);
            return;
        }
        LogStopping(logger, silo.Address, catalog.Count);
        // Clients move their new calls to other gateways while this silo still answers and forwards.
        connections.DrainClients();
        try
        {
            await membership.BeginLeaveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogStepFailed(logger, "leave placement", ex.Message);
        }
        await reminders.DisposeAsync().ConfigureAwait(false);
        await collector.DisposeAsync().ConfigureAwait(false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(collectionOptions.Value.DeactivationTimeout);
            await catalog.DeactivateAsync(static _ => true, new DeactivationReason(DeactivationReasonCode.ShuttingDown, "The silo is shutting down."), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogStepFailed(logger, "deactivate grains", ex.Message);
        }
        try
        {
            await membership.LeaveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogStepFailed(logger, "leave membership", ex.Message);
        }
        // Nothing is served any more: close the connections now rather than leave clients waiting on them until the
        // web server's shutdown timeout.
        await connections.CloseAllAsync().ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        await connections.CloseAllAsync().ConfigureAwait(false);
        catalog.AbortAll();
        runtimeClient.Dispose();
        LogStopped(logger, silo.Address);
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Silo {Silo} started; gateway port {GatewayPort}")]
    private static partial void LogStarted(ILogger logger, SiloAddress silo, int gatewayPort);

    [LoggerMessage(EventId = 701, Level = LogLevel.Information, Message = "Silo {Silo} stopping; deactivating {Count} activations")]
    private static partial void LogStopping(ILogger logger, SiloAddress silo, int count);

    [LoggerMessage(EventId = 702, Level = LogLevel.Information, Message = "Silo {Silo} stopped")]
    private static partial void LogStopped(ILogger logger, SiloAddress silo);

    [LoggerMessage(EventId = 703, Level = LogLevel.Warning, Message = "Shutdown step '{Step}' failed: {Reason}")]
    private static partial void LogStepFailed(ILogger logger, string step, string reason);
}
