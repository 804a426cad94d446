using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansSessions.AspNetCore.Logins;

namespace OrleansSessions.Hosting;

/// <summary>Keeps the logins of ASP.NET Core cookie authentication in OrleansSessions session grains.</summary>
public static class TicketStoreServiceCollectionExtensions
{
    /// <summary>
    /// Makes session grains the server-side store of the cookie scheme <paramref name="scheme"/>
    /// (<see cref="CookieAuthenticationOptions.SessionStore"/>): a sign-in creates a session of the user in
    /// <see cref="OrleansSessionTicketStoreOptions.UserIdClaimType"/>, labelled with the request's user agent and remote
    /// address and holding the ticket (protected with the app's data protection keys); the cookie holds only the
    /// session id; each request is refused from the moment the session has ended (idle or absolute timeout, logout,
    /// logout-all, eviction), on every node; sign-out closes the session. The per-user limit, history and events of
    /// the silos apply to these logins as to any session. Needs an Orleans client of the silos (<c>UseOrleansClient</c>
    /// with <c>UseOrleansSessions</c>) or a silo with <c>AddOrleansSessions</c> in the app, and data protection keys
    /// shared by every node of the app (as the cookies already need). The request's login session is on
    /// <c>HttpContext.Features</c> as <see cref="ILoginSessionFeature"/>. Calling it again for the same scheme only adds
    /// <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="scheme">The cookie authentication scheme, <see cref="CookieAuthenticationDefaults.AuthenticationScheme"/> by default.</param>
    /// <param name="configure">Sets the scheme's <see cref="OrleansSessionTicketStoreOptions"/>, checked when the app starts.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddOrleansSessionTicketStore(
        this IServiceCollection services,
        string scheme = CookieAuthenticationDefaults.AuthenticationScheme,
        Action<OrleansSessionTicketStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        var options = services.AddOptions<OrleansSessionTicketStoreOptions>(scheme);
        if (configure is not null)
        {
            options.Configure(configure);
        }
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OrleansSessionTicketStoreOptions>, OrleansSessionTicketStoreOptionsValidator>());
        services.AddDataProtection();
        foreach (var descriptor in services)
        {
            if (descriptor.ImplementationInstance is OrleansSessionTicketStoreScheme registered && string.Equals(registered.Name, scheme, StringComparison.Ordinal))
            {
                return services;
            }
        }
        services.AddSingleton(new OrleansSessionTicketStoreScheme(scheme));
        services.AddSingleton<IPostConfigureOptions<CookieAuthenticationOptions>>(sp => new OrleansSessionTicketStoreSetup(scheme, sp));
        return services;
    }

    // Marks a scheme whose store is registered.
    private sealed record OrleansSessionTicketStoreScheme(string Name);
}
