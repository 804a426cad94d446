using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Silos;

namespace OrleansSessions.Grains.Silos;

/// <summary>
/// The <see cref="ISiloSessionsService"/> of this silo, a grain service (one system target per silo for its lifetime):
/// reports this silo's <see cref="SessionMetrics"/> and samples them every <see cref="SessionHistorySample.Interval"/>
/// into a ring of the last <see cref="SessionHistorySample.Capacity"/> samples (10 minutes), so the dashboard's charts
/// have a past when a page opens.
/// </summary>
[Reentrant]
internal sealed class SiloSessionsService(
    GrainId id,
    Silo silo,
    ILoggerFactory loggerFactory,
    ILocalSiloDetails local,
    SessionMetrics metrics,
    IOptions<SiloSessionsOptions> options,
    TimeProvider time)
    : GrainService(id, silo, loggerFactory), ISiloSessionsService
{
    private readonly SessionHistoryRecorder _recorder = new(metrics, time);
    private Task _sampling = Task.CompletedTask;

    public Task<SiloReport> GetReportAsync()
    {
        var created = metrics.Created;
        var ended = metrics.Ended;
        return Task.FromResult(new SiloReport(local.SiloAddress.ToParsableString(), options.Value.HttpPort, created - ended, created, ended));
    }

    public Task<Immutable<SessionHistorySample[]>> GetHistoryAsync() => Task.FromResult(_recorder.Samples().AsImmutable());

    public override async Task Start()
    {
        var stopping = StoppedCancellationTokenSource.Token;
        _sampling = Task.Run(() => _recorder.RunAsync(stopping), CancellationToken.None);
        await base.Start();
    }

    public override async Task Stop()
    {
        await base.Stop();
        await _sampling;
    }
}
