using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansSessions.Silos;
using OrleansSessions.AspNetCore.Api;

namespace OrleansSessions.AspNetCore.Cluster;

/// <summary>
/// Builds GET /api/cluster from Orleans: the membership table and each silo's activation count from the management
/// grain, and each live silo's session figures from its <see cref="ISiloSessionsGrain"/>. On an app that is only an
/// Orleans client the silos are listed without session figures.
/// </summary>
internal sealed partial class ClusterStatusReader(
    IGrainFactory grains,
    IServiceProvider services,
    IOptions<SessionApiOptions> options,
    TimeProvider time,
    ILogger<ClusterStatusReader> logger)
{
    // On a silo: its own details; null on a client app.
    private readonly ILocalSiloDetails? _local = services.GetService<ILocalSiloDetails>();

    // Dead rows stay in the table for a while; a recent one is worth showing (a failover just happened).
    private static readonly TimeSpan RecentlyDead = TimeSpan.FromMinutes(5);

    private IManagementGrain Management => grains.GetGrain<IManagementGrain>(0);

    /// <summary>This silo's own figures; null on a client app.</summary>
    public async Task<SiloStats?> LocalStatsAsync()
    {
        if (_local is null)
        {
            return null;
        }
        var report = await grains.GetGrain<ISiloSessionsGrain>(_local.SiloAddress.ToParsableString()).GetReportAsync().ConfigureAwait(false);
        var activations = await ActivationsAsync(_local.SiloAddress, CancellationToken.None).ConfigureAwait(false);
        return new SiloStats(report.Address, activations ?? 0, report.Live, report.Created, report.Ended);
    }

    public async Task<ClusterStatus> ReadAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var hosts = await Management.GetDetailedHosts(onlyActive: false).WaitAsync(options.Value.PeerTimeout * 5, cancellationToken).ConfigureAwait(false);
        var entries = hosts
            .Where(e => e.Status != SiloStatus.Dead || now - e.IAmAliveTime < RecentlyDead)
            .OrderBy(e => e.SiloAddress.Endpoint.Address.ToString(), StringComparer.Ordinal)
            .ThenBy(e => e.SiloAddress.Endpoint.Port)
            .ThenBy(e => e.SiloAddress.Generation)
            .ToList();

        var figures = await Task.WhenAll(entries.Select(e => ReadSiloAsync(e, cancellationToken))).ConfigureAwait(false);
        var silos = new List<SiloStatusInfo>(entries.Count);
        long live = 0, created = 0, ended = 0;
        var reporting = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            var (report, activations) = figures[i];
            if (report is not null)
            {
                live += report.Live;
                created += report.Created;
                ended += report.Ended;
                reporting++;
            }
            silos.Add(new SiloStatusInfo(entry.SiloAddress.ToParsableString(), StatusName(entry.Status), activations, entry.ProxyPort,
                report?.HttpPort ?? 0, report?.Live, report?.Created, report?.Ended));
        }
        return new ClusterStatus(silos, new ClusterSessions(live, created, ended, reporting));
    }

    private async Task<(SiloReport? Report, int? Activations)> ReadSiloAsync(MembershipEntry entry, CancellationToken cancellationToken)
    {
        if (entry.Status != SiloStatus.Active)
        {
            return (null, null);
        }
        var report = ReportAsync(entry.SiloAddress, cancellationToken);
        var activations = ActivationsAsync(entry.SiloAddress, cancellationToken);
        return (await report.ConfigureAwait(false), await activations.ConfigureAwait(false));
    }

    private async Task<SiloReport?> ReportAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        if (_local is null)
        {
            return null;
        }
        try
        {
            return await grains.GetGrain<ISiloSessionsGrain>(silo.ToParsableString()).GetReportAsync().WaitAsync(options.Value.PeerTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Dead but not yet declared so, or stopping: it does not count.
            LogPeerUnreachable(logger, silo.ToParsableString(), ex.Message);
            return null;
        }
    }

    private async Task<int?> ActivationsAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        try
        {
            var statistics = await Management.GetRuntimeStatistics([silo]).WaitAsync(options.Value.PeerTimeout, cancellationToken).ConfigureAwait(false);
            return statistics.Length == 1 ? statistics[0].ActivationCount : null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogPeerUnreachable(logger, silo.ToParsableString(), ex.Message);
            return null;
        }
    }

    internal static string StatusName(SiloStatus status) => JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString());

    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Silo {Silo} did not report its figures: {Reason}")]
    private static partial void LogPeerUnreachable(ILogger logger, string silo, string reason);
}
