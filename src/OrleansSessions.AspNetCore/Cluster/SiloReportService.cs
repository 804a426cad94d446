using Microsoft.Extensions.Options;
using OrleansSessions.AspNetCore.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Runtime.Services;
using Orleans.Services;
using OrleansSessions.Grains.Diagnostics;

namespace OrleansSessions.AspNetCore.Cluster;

/// <summary>A grain service on every silo that reports that silo's session figures (GET /api/cluster asks each one).</summary>
[Alias("OrleansSessions.AspNetCore.ISiloReportService")]
public interface ISiloReportService : IGrainService
{
    /// <summary>This silo's figures.</summary>
    [Alias("GetReport")]
    Task<SiloReport> GetReportAsync();
}

/// <summary>Reaches the <see cref="ISiloReportService"/> of a given silo.</summary>
public interface ISiloReportClient : IGrainServiceClient<ISiloReportService>
{
    /// <summary>The figures of <paramref name="silo"/>; throws when it cannot answer.</summary>
    Task<SiloReport> GetReportAsync(SiloAddress silo);
}

/// <summary>The <see cref="ISiloReportService"/> of this silo: a system target, one per silo for its lifetime.</summary>
[Reentrant]
internal sealed class SiloReportService(GrainId id, Silo silo, ILoggerFactory loggerFactory, ILocalSiloDetails local, SessionMetrics metrics, IOptions<SessionApiOptions> options)
    : GrainService(id, silo, loggerFactory), ISiloReportService
{
    public Task<SiloReport> GetReportAsync() => Task.FromResult(Create(local, metrics, options.Value));

    internal static SiloReport Create(ILocalSiloDetails local, SessionMetrics metrics, SessionApiOptions options)
    {
        var created = metrics.Created;
        var ended = metrics.Ended;
        return new SiloReport(local.SiloAddress.ToParsableString(), options.HttpPort, created - ended, created, ended);
    }
}

/// <summary>The client side of <see cref="ISiloReportService"/>.</summary>
internal sealed class SiloReportClient(IServiceProvider services) : GrainServiceClient<ISiloReportService>(services), ISiloReportClient
{
    public Task<SiloReport> GetReportAsync(SiloAddress silo) => GetGrainService(silo).GetReportAsync();
}

/// <summary>Registers the silo reports.</summary>
internal static class SiloReportRegistration
{
    /// <remarks>On an app that is only an Orleans client nothing resolves either registration.</remarks>
    public static IServiceCollection AddSiloReports(this IServiceCollection services)
    {
        services.AddGrainService<SiloReportService>();
        services.AddSingleton<ISiloReportClient, SiloReportClient>();
        return services;
    }
}
