using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// "bare-silo" mode: a silo process for the bare Orleans floor over the gateway. Host.CreateApplicationBuilder +
/// UseOrleans, UseLocalhostClustering on the given ports (ServiceId "orleans-sessions"), Orleans' memory grain storage
/// named <see cref="SessionStorage.Name"/>, the GC settings of the silo host (this project's). Hosts only
/// <see cref="Bare.BareGrain"/> calls in practice. Prints READY once started; runs until killed.
/// </summary>
internal static class BareSiloMode
{
    public static async Task<int> RunAsync(Args args)
    {
        var siloPort = args.Int("silo-port", 11111);
        var gatewayPort = args.Int("gateway-port", 30000);
        var clusterId = args.Get("cluster-id", "bench");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], EnvironmentName = "Production", DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, null, InProcessSilo.ServiceId, clusterId);
            InProcessSilo.AddMemoryStorage(silo);
        });
        using var host = builder.Build();
        await host.StartAsync();
        Console.WriteLine("READY");
        await host.WaitForShutdownAsync();
        return 0;
    }
}
