using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>Logs the silo's start and stop in one line each, with what an operator needs to find it.</summary>
internal sealed partial class SiloLifecycleLog(ILocalSiloDetails silo, SiloSettings settings, ILogger<SiloLifecycleLog> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(SiloLifecycleLog), ServiceLifecycleStage.Active, OnActive, OnStopping);
    }

    private Task OnActive(CancellationToken cancellationToken)
    {
        LogActive(logger, silo.SiloAddress.ToParsableString(), settings.ClusterId, settings.StorageProvider, settings.GatewayPort, settings.HttpPort);
        if (settings.HasApiToken && settings.Certificates is null)
        {
            // A token suggests callers are meant to be checked, but Orleans' gateway knows nothing of it.
            LogGatewayUnguarded(logger, settings.GatewayPort);
        }
        return Task.CompletedTask;
    }

    private Task OnStopping(CancellationToken cancellationToken)
    {
        LogStopping(logger, silo.SiloAddress.ToParsableString());
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "Silo {Silo} active in cluster {ClusterId}: storage {Storage}, gateway port {GatewayPort}, HTTP port {HttpPort}")]
    private static partial void LogActive(ILogger logger, string silo, string clusterId, string storage, int gatewayPort, int httpPort);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Security:ApiToken guards the HTTP API only: without Security:Certificate and Security:CaCertificate, any process that can reach gateway port {GatewayPort} can read, create and close every user's sessions; set both to guard the gateway")]
    private static partial void LogGatewayUnguarded(ILogger logger, int gatewayPort);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Silo {Silo} stopping: leaving placement, deactivating grains, leaving membership")]
    private static partial void LogStopping(ILogger logger, string silo);
}
