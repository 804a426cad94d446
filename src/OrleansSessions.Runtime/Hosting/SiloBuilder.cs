using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Hosting;

namespace OrleansSessions.Runtime.Hosting;

/// <summary>The <see cref="ISiloBuilder"/> of a silo host.</summary>
internal sealed class SiloBuilder(IServiceCollection services, IConfiguration configuration) : ISiloBuilder
{
    public IServiceCollection Services { get; } = services;

    public IConfiguration Configuration { get; } = configuration;
}
