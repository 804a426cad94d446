using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;

namespace OrleansSessions.Serialization;

/// <summary>
/// Carries an exception across the wire as its type name and message. The receiver re-creates the same
/// type when it is loaded and has a (string message) constructor, so callers can catch typed exceptions;
/// otherwise it raises <see cref="GrainCallException"/> naming the original type.
/// </summary>
internal sealed class ExceptionCodec<T> : ICodec<T> where T : Exception
{
    public void Write(ref CodecWriter writer, T value)
    {
        writer.WriteString(value.GetType().FullName);
        writer.WriteString(value.Message);
    }

    public T Read(ref CodecReader reader)
    {
        var typeName = reader.ReadString() ?? typeof(Exception).FullName!;
        var message = reader.ReadString() ?? string.Empty;
        var exception = ExceptionFactory.Create(typeName, message);
        if (exception is T typed)
        {
            return typed;
        }
        if (new GrainCallException(typeName, message) is T wrapped)
        {
            return wrapped;
        }
        throw new SerializationException($"Exception of type {typeName} cannot be read as {typeof(T).FullName}.", exception);
    }
}

/// <summary>Re-creates exceptions by type name; used on the (rare) error path only.</summary>
public static class ExceptionFactory
{
    private static readonly ConcurrentDictionary<string, Func<string, Exception>?> Factories = new(StringComparer.Ordinal);

    /// <summary>Registers how to re-create an exception type from its message.</summary>
    public static void Register<T>(Func<string, T> factory) where T : Exception
        => Factories[typeof(T).FullName!] = factory;

    /// <summary>Re-creates an exception of the named type, or a <see cref="GrainCallException"/> naming it.</summary>
    public static Exception Create(string typeName, string message)
    {
        var factory = Factories.GetOrAdd(typeName, FindFactory);
        if (factory is not null)
        {
            try
            {
                return factory(message);
            }
            catch (Exception)
            {
                // fall through to the generic wrapper
            }
        }
        return new GrainCallException(typeName, message);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Error path: exception types are looked up by name.")]
    [UnconditionalSuppressMessage("Trimming", "IL2057", Justification = "Error path: exception types are looked up by name.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Error path: exception types are looked up by name.")]
    private static Func<string, Exception>? FindFactory(string typeName)
    {
        // Only plain full names of types that are already loaded: an assembly-qualified or otherwise unusual name
        // from the wire must not make this process load assemblies (and malformed names must not throw here).
        if (typeName.Length == 0 || typeName.AsSpan().IndexOfAny(",[]&*") >= 0)
        {
            return null;
        }
        Type? type;
        try
        {
            type = FindType(typeName);
        }
        catch (Exception)
        {
            return null;
        }
        if (type is null || !typeof(Exception).IsAssignableFrom(type) || type.IsAbstract)
        {
            return null;
        }
        var ctor = type.GetConstructor(BindingFlags.Public | BindingFlags.Instance, [typeof(string)]);
        if (ctor is null)
        {
            return null;
        }
        return message => (Exception)ctor.Invoke([message]);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Error path: exception types are looked up by name.")]
    [UnconditionalSuppressMessage("Trimming", "IL2057", Justification = "Error path: exception types are looked up by name.")]
    private static Type? FindType(string typeName)
    {
        var type = Type.GetType(typeName, throwOnError: false);
        if (type is not null)
        {
            return type;
        }
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            type = assembly.GetType(typeName, throwOnError: false);
            if (type is not null)
            {
                return type;
            }
        }
        return null;
    }
}
