using Orleans.Concurrency;
using Orleans.Services;

namespace OrleansSessions.Silos;

/// <summary>
/// One silo's own session figures, reached from any silo or client: the grain whose key is the silo's address
/// (<c>SiloAddress.ToParsableString()</c>) forwards to that silo's <see cref="ISiloSessionsService"/> (as Orleans'
/// dashboard reaches its SiloGrainService). A call throws when that silo cannot answer (dead, or stopping).
/// </summary>
[Alias("OrleansSessions.Silos.ISiloSessionsGrain")]
public interface ISiloSessionsGrain : IGrainWithStringKey
{
    /// <summary>The silo's figures now.</summary>
    [Alias("GetReport")]
    Task<SiloReport> GetReportAsync();

    /// <summary>The silo's samples of the last <see cref="SessionHistorySample.Capacity"/> intervals, oldest first.</summary>
    [Alias("GetHistory")]
    Task<Immutable<SessionHistorySample[]>> GetHistoryAsync();
}

/// <summary>The grain service on every silo behind <see cref="ISiloSessionsGrain"/>: one per silo for its lifetime.</summary>
[Alias("OrleansSessions.Silos.ISiloSessionsService")]
public interface ISiloSessionsService : IGrainService
{
    /// <inheritdoc cref="ISiloSessionsGrain.GetReportAsync"/>
    [Alias("GetReport")]
    Task<SiloReport> GetReportAsync();

    /// <inheritdoc cref="ISiloSessionsGrain.GetHistoryAsync"/>
    [Alias("GetHistory")]
    Task<Immutable<SessionHistorySample[]>> GetHistoryAsync();
}
