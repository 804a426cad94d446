using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansSessions.Hosting;

/// <summary>Registers grain classes.</summary>
public static class SiloBuilderGrainExtensions
{
    /// <summary>Hosts <typeparamref name="TGrain"/> as the implementation of <typeparamref name="TInterface"/>.</summary>
    public static ISiloBuilder AddGrain<TInterface, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TGrain>(this ISiloBuilder builder)
        where TInterface : IGrain
        where TGrain : Grain, TInterface
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton(new GrainClassRegistration(typeof(TInterface), typeof(TGrain)));
        return builder;
    }
}
