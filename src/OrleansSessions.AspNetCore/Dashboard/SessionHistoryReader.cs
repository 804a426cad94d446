using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansSessions.Silos;
using OrleansSessions.AspNetCore.Api;

namespace OrleansSessions.AspNetCore.Dashboard;

/// <summary>
/// Builds GET /api/stats/history: the samples of every active silo (its <see cref="ISiloSessionsGrain"/>) added up
/// slot by slot; expiry lag percentiles come from the added bucket counts.
/// </summary>
/// <remarks>On an app that is only an Orleans client the history is empty.</remarks>
internal sealed partial class SessionHistoryReader(
    IServiceProvider services,
    IGrainFactory grains,
    IOptions<SessionApiOptions> options,
    ILogger<SessionHistoryReader> logger)
{
    private readonly ILocalSiloDetails? _local = services.GetService<ILocalSiloDetails>();

    public async Task<SessionHistory> ReadAsync(CancellationToken cancellationToken)
    {
        if (_local is null)
        {
            return new SessionHistory(SessionHistorySample.Interval.TotalSeconds, 0, []);
        }
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)
            .WaitAsync(options.Value.PeerTimeout * 5, cancellationToken).ConfigureAwait(false);
        var silos = hosts.Keys.ToList();
        var answers = await Task.WhenAll(silos.Select(s => SamplesAsync(s, cancellationToken))).ConfigureAwait(false);
        var slots = new SortedDictionary<long, Slot>();
        var reporting = 0;
        foreach (var samples in answers)
        {
            if (samples is null)
            {
                continue;
            }
            reporting++;
            foreach (var sample in samples)
            {
                if (!slots.TryGetValue(sample.Slot, out var slot))
                {
                    slots[sample.Slot] = slot = new Slot();
                }
                slot.Add(sample);
            }
        }
        var seconds = SessionHistorySample.Interval.TotalSeconds;
        var points = new List<SessionHistoryPoint>(slots.Count);
        foreach (var (at, slot) in slots)
        {
            points.Add(new SessionHistoryPoint(
                DateTimeOffset.FromUnixTimeMilliseconds(at),
                slot.Live,
                slot.Created / seconds,
                slot.Ended / seconds,
                slot.Expired,
                Rounded(ExpiryLagBuckets.Quantile(slot.Lags, 0.5)),
                Rounded(ExpiryLagBuckets.Quantile(slot.Lags, 0.99))));
        }
        return new SessionHistory(seconds, reporting, points);
    }

    private static double? Rounded(double? milliseconds) => milliseconds is { } value ? Math.Round(value, 2) : null;

    private async Task<SessionHistorySample[]?> SamplesAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        try
        {
            var samples = await grains.GetGrain<ISiloSessionsGrain>(silo.ToParsableString()).GetHistoryAsync()
                .WaitAsync(options.Value.PeerTimeout, cancellationToken).ConfigureAwait(false);
            return samples.Value;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Dead but not yet declared so, or stopping: its history is left out.
            LogPeerUnreachable(logger, silo.ToParsableString(), ex.Message);
            return null;
        }
    }

    private sealed class Slot
    {
        public long Live;
        public long Created;
        public long Ended;
        public long Expired;
        public readonly long[] Lags = new long[ExpiryLagBuckets.Count];

        public void Add(SessionHistorySample sample)
        {
            Live += sample.Live;
            Created += sample.Created;
            Ended += sample.Ended;
            for (var i = 0; i < sample.LagBuckets.Length && i < sample.LagCounts.Length; i++)
            {
                if ((uint)sample.LagBuckets[i] < (uint)Lags.Length)
                {
                    Lags[sample.LagBuckets[i]] += sample.LagCounts[i];
                    Expired += sample.LagCounts[i];
                }
            }
        }
    }

    [LoggerMessage(EventId = 1500, Level = LogLevel.Debug, Message = "Silo {Silo} did not give its session history: {Reason}")]
    private static partial void LogPeerUnreachable(ILogger logger, string silo, string reason);
}
