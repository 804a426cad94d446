using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Sessions;

namespace OrleansSessions.SiloHost.Api;

/// <summary>
/// Builds GET /api/cluster: the membership table as this silo last read it, this silo's own figures, and every
/// other live silo's figures read from its GET /api/cluster/silo (the HTTP port is in its membership row).
/// </summary>
internal sealed partial class ClusterStatusReader(
    Silo silo,
    SessionMetrics metrics,
    IOptions<SecurityOptions> security,
    IOptions<SessionApiOptions> options,
    ILogger<ClusterStatusReader> logger) : IDisposable
{
    // Dead rows stay in the table for a while; a recent one is worth showing (a failover just happened).
    private static readonly TimeSpan RecentlyDead = TimeSpan.FromMinutes(5);

    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };

    public SiloStats LocalStats()
    {
        var created = metrics.Created;
        var ended = metrics.Ended;
        return new SiloStats(silo.Address.ToString(), silo.ActivationCount, created - ended, created, ended);
    }

    public async Task<ClusterStatus> ReadAsync(CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var entries = silo.MembershipEntries
            .Where(e => e.Status != SiloStatus.Dead || now - e.IAmAliveTime < RecentlyDead)
            .OrderBy(e => e.Silo.Host, StringComparer.Ordinal).ThenBy(e => e.Silo.Port).ThenBy(e => e.Silo.Generation)
            .ToList();
        var local = silo.Address;
        if (!entries.Any(e => e.Silo == local))
        {
            // Not yet (or no longer) in the table as this silo last read it: still report itself.
            entries.Insert(0, new MembershipEntry { Silo = local, Status = SiloStatus.Active, GatewayPort = silo.Local.GatewayPort, HttpPort = silo.Local.HttpPort });
        }

        var stats = await Task.WhenAll(entries.Select(e => ReadStatsAsync(e, cancellationToken))).ConfigureAwait(false);
        var silos = new List<SiloStatusInfo>(entries.Count);
        long live = 0, created = 0, ended = 0;
        var reporting = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            var s = stats[i];
            if (s is not null)
            {
                live += s.Live;
                created += s.Created;
                ended += s.Ended;
                reporting++;
            }
            silos.Add(new SiloStatusInfo(entry.Silo.ToString(), StatusName(entry.Status), s?.Activations, entry.GatewayPort, entry.HttpPort, s?.Live, s?.Created, s?.Ended));
        }
        return new ClusterStatus(silos, new ClusterSessions(live, created, ended, reporting));
    }

    private async Task<SiloStats?> ReadStatsAsync(MembershipEntry entry, CancellationToken cancellationToken)
    {
        if (entry.Silo == silo.Address)
        {
            return LocalStats();
        }
        if (entry.Status != SiloStatus.Active || entry.HttpPort <= 0)
        {
            return null;
        }
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.Value.PeerTimeout);
            var host = entry.Silo.Host.Contains(':', StringComparison.Ordinal) ? $"[{entry.Silo.Host}]" : entry.Silo.Host;
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{host}:{entry.HttpPort}/api/cluster/silo")));
            if (!string.IsNullOrEmpty(security.Value.ApiToken))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", security.Value.ApiToken);
            }
            using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<SiloStats>(SessionJson.Options, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            LogPeerUnreachable(logger, entry.Silo.ToString(), ex.Message);
            return null;
        }
    }

    internal static string StatusName(SiloStatus status) => JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString());

    public void Dispose() => _http.Dispose();

    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Silo {Silo} did not report its figures: {Reason}")]
    private static partial void LogPeerUnreachable(ILogger logger, string silo, string reason);
}
