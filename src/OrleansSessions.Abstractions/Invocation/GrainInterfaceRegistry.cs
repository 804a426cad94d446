using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using OrleansSessions.Invocation;

namespace OrleansSessions;

/// <summary>Describes one grain interface: its id, its proxy factory and its request factory.</summary>
public sealed class GrainInterfaceInfo
{
    internal GrainInterfaceInfo(Type interfaceType, int interfaceId, Func<int, GrainRequest?> requestFactory)
    {
        InterfaceType = interfaceType;
        InterfaceId = interfaceId;
        Name = interfaceType.FullName ?? interfaceType.Name;
        RequestFactory = requestFactory;
    }

    /// <summary>The interface type.</summary>
    public Type InterfaceType { get; }

    /// <summary>The stable interface id.</summary>
    public int InterfaceId { get; }

    /// <summary>The interface's full name.</summary>
    public string Name { get; }

    /// <summary>Creates an empty request for a method id, or null for an unknown id.</summary>
    public Func<int, GrainRequest?> RequestFactory { get; }
}

/// <summary>
/// The grain interfaces known to this process. Generated code registers each interface from its
/// assembly's module initializer; lookups of a not-yet-seen interface run that initializer.
/// </summary>
public static class GrainInterfaceRegistry
{
    private static readonly ConcurrentDictionary<int, GrainInterfaceInfo> ById = new();

    /// <summary>The stable id of an interface, from its full name.</summary>
    public static int ComputeInterfaceId(string fullName) => (int)GrainId.StableHash(fullName);

    /// <summary>Registers a grain interface (called by generated code).</summary>
    public static void Register<TInterface>(Func<GrainId, IGrainCallInvoker, TInterface> proxyFactory, Func<int, GrainRequest?> requestFactory)
        where TInterface : IGrain
    {
        var id = ComputeInterfaceId(typeof(TInterface).FullName!);
        var info = new GrainInterfaceInfo(typeof(TInterface), id, requestFactory);
        if (ById.TryGetValue(id, out var existing) && existing.InterfaceType != typeof(TInterface))
        {
            throw new InvalidOperationException($"Grain interfaces {existing.Name} and {info.Name} have the same id.");
        }
        ById[id] = info;
        ProxyCache<TInterface>.Factory = proxyFactory;
        ProxyCache<TInterface>.InterfaceId = id;
    }

    /// <summary>The id of <typeparamref name="TInterface"/>.</summary>
    public static int GetInterfaceId<TInterface>() where TInterface : IGrain
    {
        EnsureRegistered<TInterface>();
        return ProxyCache<TInterface>.InterfaceId;
    }

    /// <summary>Creates a proxy for the grain <typeparamref name="TInterface"/>/<paramref name="key"/> that sends calls through <paramref name="invoker"/>.</summary>
    public static TInterface CreateProxy<TInterface>(string key, IGrainCallInvoker invoker) where TInterface : IGrain
    {
        ArgumentNullException.ThrowIfNull(key);
        var factory = EnsureRegistered<TInterface>();
        return factory(new GrainId(ProxyCache<TInterface>.InterfaceId, key), invoker);
    }

    /// <summary>Creates a proxy for a known grain identity.</summary>
    public static TInterface CreateProxy<TInterface>(GrainId grainId, IGrainCallInvoker invoker) where TInterface : IGrain
        => EnsureRegistered<TInterface>()(grainId, invoker);

    /// <summary>The interface with the given id, or null.</summary>
    public static GrainInterfaceInfo? Find(int interfaceId) => ById.GetValueOrDefault(interfaceId);

    /// <summary>The name of the interface with the given id, or its number.</summary>
    public static string GetName(int interfaceId) => ById.TryGetValue(interfaceId, out var info) ? info.Name : $"#{interfaceId:X8}";

    /// <summary>Makes sure the interfaces of <paramref name="assemblyType"/>'s module are registered.</summary>
    public static void EnsureModuleRegistered(Type assemblyType) => RuntimeHelpers.RunModuleConstructor(assemblyType.Module.ModuleHandle);

    private static Func<GrainId, IGrainCallInvoker, TInterface> EnsureRegistered<TInterface>() where TInterface : IGrain
    {
        var factory = ProxyCache<TInterface>.Factory;
        if (factory is null)
        {
            RuntimeHelpers.RunModuleConstructor(typeof(TInterface).Module.ModuleHandle);
            factory = ProxyCache<TInterface>.Factory
                ?? throw new InvalidOperationException($"{typeof(TInterface)} is not a generated grain interface. Its project must reference OrleansSessions.CodeGenerator as an analyzer.");
        }
        return factory;
    }

    private static class ProxyCache<TInterface>
    {
        public static Func<GrainId, IGrainCallInvoker, TInterface>? Factory;
        public static int InterfaceId;
    }
}
