using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansSessions.Hosting;

/// <summary>Configures a silo: its services, grains and providers.</summary>
public interface ISiloBuilder
{
    /// <summary>The silo's services.</summary>
    IServiceCollection Services { get; }

    /// <summary>The silo's configuration (appsettings, environment, command line).</summary>
    IConfiguration Configuration { get; }
}
