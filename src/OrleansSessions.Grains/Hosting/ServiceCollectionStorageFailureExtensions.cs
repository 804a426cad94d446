using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Hosting;

/// <summary>For storage backends: grain storage whose failures reach callers as <see cref="SessionStorageUnavailableException"/>.</summary>
public static class ServiceCollectionStorageFailureExtensions
{
    /// <summary>
    /// Makes the grain storage registered as <paramref name="name"/> (a keyed <see cref="IGrainStorage"/>) throw the
    /// <see cref="SessionStorageUnavailableException"/> that <paramref name="translate"/> returns for a failure of its
    /// backend; an exception for which it returns null, and every <see cref="InconsistentStateException"/>, passes as
    /// it is. The storage keeps its place in the silo lifecycle. Call it after registering the storage.
    /// </summary>
    /// <param name="services">The silo's services.</param>
    /// <param name="name">The grain storage name, e.g. <see cref="Grains.SessionStorage.Name"/>.</param>
    /// <param name="translate">The backend's one judgement of which exceptions mean its storage is unavailable.</param>
    /// <returns>The services.</returns>
    /// <exception cref="InvalidOperationException">No grain storage named <paramref name="name"/> is registered.</exception>
    public static IServiceCollection AddGrainStorageFailureTranslation(
        this IServiceCollection services, string name, Func<Exception, SessionStorageUnavailableException?> translate)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(translate);
        ServiceDescriptor? registered = null;
        foreach (var descriptor in services)
        {
            if (descriptor.IsKeyedService && descriptor.ServiceType == typeof(IGrainStorage) && Equals(descriptor.ServiceKey, name))
            {
                registered = descriptor;
            }
        }
        if (registered?.KeyedImplementationFactory is not { } create)
        {
            throw new InvalidOperationException($"No grain storage named '{name}' is registered by a factory.");
        }
        services.Remove(registered);
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, key) => new StorageFailureGrainStorage((IGrainStorage)create(sp, key), translate));
        return services;
    }
}
