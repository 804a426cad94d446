using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Runtime.Services;
using Orleans.Services;
using OrleansSessions.Grains.Hosting;
using OrleansSessions.Grains.Options;
using OrleansSessions.Silos;

namespace OrleansSessions.Grains.Silos;

/// <summary>Reaches the <see cref="ISiloSessionsService"/> of a given silo.</summary>
internal interface ISiloSessionsClient : IGrainServiceClient<ISiloSessionsService>
{
    ISiloSessionsService For(SiloAddress silo);
}

/// <summary>The client side of <see cref="ISiloSessionsService"/>.</summary>
internal sealed class SiloSessionsClient(IServiceProvider services) : GrainServiceClient<ISiloSessionsService>(services), ISiloSessionsClient
{
    public ISiloSessionsService For(SiloAddress silo) => GetGrainService(silo);
}

/// <summary>
/// <see cref="ISiloSessionsGrain"/>: forwards to the grain service of the silo its key names. A stateless worker, so
/// each calling silo forwards from a local activation.
/// </summary>
[StatelessWorker]
internal sealed class SiloSessionsGrain(ISiloSessionsClient client) : Grain, ISiloSessionsGrain
{
    private ISiloSessionsService Service => client.For(SiloAddress.FromParsableString(this.GetPrimaryKeyString()));

    public Task<SiloReport> GetReportAsync() => Service.GetReportAsync();

    public Task<Immutable<SessionHistorySample[]>> GetHistoryAsync() => Service.GetHistoryAsync();
}

/// <summary><see cref="IJanitorSweepGrain"/>: sweeps the Janitor:Partitions partitions of this silo's options.</summary>
[StatelessWorker]
internal sealed class JanitorSweepGrain(IOptions<JanitorOptions> options) : Grain, IJanitorSweepGrain
{
    public Task<int> SweepAllAsync() => Janitors.RunAsync(GrainFactory, options.Value.Partitions);
}

/// <summary><see cref="ILocalSiloStatus"/> from Orleans' silo status oracle.</summary>
internal sealed class LocalSiloStatus(ISiloStatusOracle oracle) : ILocalSiloStatus
{
    public SiloAddress SiloAddress => oracle.SiloAddress;

    public SiloStatus CurrentStatus => oracle.CurrentStatus;
}
