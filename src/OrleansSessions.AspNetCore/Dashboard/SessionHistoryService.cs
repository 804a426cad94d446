using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Runtime.Services;
using Orleans.Services;

namespace OrleansSessions.AspNetCore.Dashboard;

/// <summary>A grain service on every silo that gives that silo's recent session history (GET /api/stats/history asks each one).</summary>
[Alias("OrleansSessions.AspNetCore.ISessionHistoryService")]
public interface ISessionHistoryService : IGrainService
{
    /// <summary>This silo's samples, oldest first.</summary>
    [Alias("GetSamples")]
    Task<SessionHistorySample[]> GetSamplesAsync();
}

/// <summary>Reaches the <see cref="ISessionHistoryService"/> of a given silo.</summary>
public interface ISessionHistoryClient : IGrainServiceClient<ISessionHistoryService>
{
    /// <summary>The samples of <paramref name="silo"/>; throws when it cannot answer.</summary>
    Task<SessionHistorySample[]> GetSamplesAsync(SiloAddress silo);
}

/// <summary>The <see cref="ISessionHistoryService"/> of this silo: a system target, one per silo for its lifetime.</summary>
[Reentrant]
internal sealed class SessionHistoryService(GrainId id, Silo silo, ILoggerFactory loggerFactory, SessionHistoryRecorder recorder)
    : GrainService(id, silo, loggerFactory), ISessionHistoryService
{
    public Task<SessionHistorySample[]> GetSamplesAsync() => Task.FromResult(recorder.Samples());
}

/// <summary>The client side of <see cref="ISessionHistoryService"/>.</summary>
internal sealed class SessionHistoryClient(IServiceProvider services) : GrainServiceClient<ISessionHistoryService>(services), ISessionHistoryClient
{
    public Task<SessionHistorySample[]> GetSamplesAsync(SiloAddress silo) => GetGrainService(silo).GetSamplesAsync();
}
