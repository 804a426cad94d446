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
        return exception as T ?? (T)(Exception)new GrainCallException(typeName, message);
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
        Type? type = Type.GetType(typeName, throwOnError: false);
        if (type is null)
        {
            foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
            {
                type = assembly.GetType(typeName, throwOnError: false);
                if (type is not null)
                {
                    break;
                }
            }
        }
        if (type is null || !typeof(Exception).IsAssignableFrom(type))
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
}
