using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansSessions.AspNetCore.Logins;

/// <summary>Gives one cookie scheme its <see cref="OrleansSessionTicketStore"/>, once its options are first built.</summary>
internal sealed class OrleansSessionTicketStoreSetup(string scheme, IServiceProvider services) : IPostConfigureOptions<CookieAuthenticationOptions>
{
    public void PostConfigure(string? name, CookieAuthenticationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!string.Equals(name, scheme, StringComparison.Ordinal))
        {
            return;
        }
        var grains = services.GetService<IGrainFactory>() ?? throw new InvalidOperationException(
            "AddOrleansSessionTicketStore needs Orleans in the app: an Orleans client of the session silos (UseOrleansClient with UseOrleansSessions) or a silo with AddOrleansSessions.");
        options.SessionStore = new OrleansSessionTicketStore(
            scheme,
            services.GetRequiredService<IOptionsMonitor<OrleansSessionTicketStoreOptions>>().Get(scheme),
            grains,
            services.GetRequiredService<IDataProtectionProvider>(),
            services.GetRequiredService<ILogger<OrleansSessionTicketStore>>(),
            services.GetService<IHttpContextAccessor>());
    }
}
