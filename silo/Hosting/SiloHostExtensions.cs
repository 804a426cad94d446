using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansSessions.Hosting;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.SiloHost.Api;
using OrleansSessions.SiloHost.Dashboard;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>Builds the silo host of <c>dotnet run --project silo</c>.</summary>
public static class SiloHostExtensions
{
    /// <summary>
    /// Adds the configuration sources of the contract (appsettings.json, OrleansSessions__Section__Key environment
    /// variables, --Section:Key=value arguments, the later winning), the silo with the session grains on the storage
    /// of Storage:Provider, the janitor start, and the HTTP API and dashboard services.
    /// </summary>
    /// <exception cref="SiloConfigurationException">Storage:Provider is unknown.</exception>
    public static WebApplicationBuilder AddSessionSilo(this WebApplicationBuilder builder, string[] args)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Configuration.AddEnvironmentVariables("OrleansSessions__");
        // Arguments again, after the prefixed variables, so that the command line wins.
        builder.Configuration.AddCommandLine(args);
        // Startup failures are reported by Program in one line; the host's own error log would add a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.UseOrleansSessionsSilo(silo =>
        {
            silo.AddSessionGrains();
            silo.UseConfiguredStorage();
        });
        builder.Services.AddHostedService<JanitorStarter>();
        builder.Services.AddSessionApi();
        return builder;
    }

    /// <summary>Maps the HTTP API, /healthz, the OpenAPI document and the dashboard at /.</summary>
    public static WebApplication MapSessionSilo(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapSessionApi();
        app.MapSessionDashboard();
        return app;
    }

    /// <summary>Selects the storage providers from Storage:Provider: memory (default) or postgres (Storage:ConnectionString).</summary>
    /// <exception cref="SiloConfigurationException">Storage:Provider is neither memory nor postgres.</exception>
    public static ISiloBuilder UseConfiguredStorage(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var provider = silo.Configuration["Storage:Provider"];
        if (string.IsNullOrWhiteSpace(provider) || string.Equals(provider.Trim(), "memory", StringComparison.OrdinalIgnoreCase))
        {
            return silo;
        }
        if (string.Equals(provider.Trim(), "postgres", StringComparison.OrdinalIgnoreCase) || string.Equals(provider.Trim(), "postgresql", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return silo.UsePostgreSql();
            }
            catch (ArgumentException ex)
            {
                var text = ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal);
                throw new SiloConfigurationException(text, ex);
            }
        }
        throw new SiloConfigurationException($"Storage:Provider '{provider}' is not supported: use memory or postgres.");
    }
}
