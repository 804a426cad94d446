using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansSessions.Grains;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Hosting;

/// <summary>Registers the session domain on a silo.</summary>
public static class SiloBuilderSessionExtensions
{
    /// <summary>
    /// Hosts the session, user-sessions and janitor grains; binds <see cref="SessionOptions"/> ("Sessions") and
    /// <see cref="JanitorOptions"/> ("Janitor") from the silo configuration and validates them at start; registers
    /// the in-memory <see cref="ISessionDeadlineIndex"/> unless one is registered already (before or after this
    /// call, a provider's registration replaces it) and <see cref="SessionMetrics"/>. Calling it twice does nothing more.
    /// </summary>
    public static ISiloBuilder AddSessionGrains(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(SessionServices))
            {
                return builder;
            }
        }

        var configuration = builder.Configuration;
        services.AddOptions<SessionOptions>()
            .Configure(options => options.Bind(configuration))
            .ValidateOnStart();
        services.AddOptions<JanitorOptions>()
            .Configure(options => options.Bind(configuration))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SessionOptions>, SessionOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JanitorOptions>, JanitorOptionsValidator>());

        services.TryAddSingleton<ISessionDeadlineIndex, InMemorySessionDeadlineIndex>();
        services.TryAddSingleton<SessionMetrics>();
        services.AddSingleton<SessionServices>();

        builder.AddGrain<ISessionGrain, SessionGrain>();
        builder.AddGrain<IUserSessionsGrain, UserSessionsGrain>();
        builder.AddGrain<IJanitorGrain, JanitorGrain>();
        return builder;
    }
}
