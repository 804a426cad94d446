using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Sessions;

namespace OrleansSessions.Hosting;

/// <summary>Registers the <see cref="SessionToucher"/> of an Orleans client or silo.</summary>
public static class SessionToucherServiceCollectionExtensions
{
    /// <summary>
    /// Adds one <see cref="SessionToucher"/> (a singleton over the host's <see cref="IGrainFactory"/>) unless one is
    /// registered already; <paramref name="configure"/> sets its limits. <c>UseOrleansSessions</c> (client) and
    /// <c>AddOrleansSessionsApi</c> call it.
    /// </summary>
    public static IServiceCollection AddSessionToucher(this IServiceCollection services, Action<SessionToucherOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(sp =>
        {
            var options = new SessionToucherOptions();
            configure?.Invoke(options);
            return new SessionToucher(sp.GetRequiredService<IGrainFactory>(), options);
        });
        return services;
    }
}
