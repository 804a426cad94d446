using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace OrleansSessions.Serialization;

/// <summary>
/// Finds the codec of a type. Lookups after the first are a static field read; the first lookup of a
/// type resolves built-in, collection and generated codecs once.
/// </summary>
public static class CodecRegistry
{
    private static readonly object Gate = new();

    /// <summary>Registers the codec of <typeparamref name="T"/> (generated code calls this from a module initializer).</summary>
    public static void Register<T>(ICodec<T> codec) => CodecCache<T>.Instance = codec;

    /// <summary>Returns the codec of <typeparamref name="T"/>; throws <see cref="SerializationException"/> when the type has none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ICodec<T> Get<T>() => CodecCache<T>.Instance ?? Resolve<T>();

    /// <summary>Serializes a value to a new byte array.</summary>
    public static byte[] Serialize<T>(T value)
    {
        var buffer = t_scratch ??= new System.Buffers.ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        try
        {
            var writer = new CodecWriter(buffer);
            Get<T>().Write(ref writer, value);
            writer.Commit();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            if (buffer.Capacity > 64 * 1024)
            {
                t_scratch = null;
            }
        }
    }

    /// <summary>
    /// Serializes a value into this thread's scratch buffer and returns the bytes, without allocating. The span is
    /// valid until the next serialization on this thread: copy it before serializing anything else.
    /// </summary>
    public static ReadOnlySpan<byte> SerializeToScratch<T>(T value)
    {
        var buffer = t_scratch ??= new System.Buffers.ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = new CodecWriter(buffer);
        Get<T>().Write(ref writer, value);
        writer.Commit();
        var written = buffer.WrittenSpan;
        if (buffer.Capacity > 64 * 1024)
        {
            // The span keeps the large buffer alive for the caller; the thread drops it for the next call.
            t_scratch = null;
        }
        return written;
    }

    [ThreadStatic]
    private static System.Buffers.ArrayBufferWriter<byte>? t_scratch;

    /// <summary>Deserializes a value written by <see cref="Serialize{T}"/>; the whole input must be consumed.</summary>
    public static T Deserialize<T>(ReadOnlySpan<byte> data)
    {
        var reader = new CodecReader(data);
        var value = Get<T>().Read(ref reader);
        if (reader.Remaining != 0)
        {
            throw new SerializationException($"{reader.Remaining} trailing bytes after {typeof(T).Name}.");
        }
        return value;
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Codec types are closed over types the application uses.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Codec types are closed over types the application uses.")]
    [UnconditionalSuppressMessage("Trimming", "IL2055", Justification = "Codec types are closed over types the application uses.")]
    [UnconditionalSuppressMessage("Trimming", "IL2060", Justification = "Codec types are closed over types the application uses.")]
    private static ICodec<T> Resolve<T>()
    {
        lock (Gate)
        {
            if (CodecCache<T>.Instance is { } existing)
            {
                return existing;
            }
            var codec = (ICodec<T>?)CreateCodec(typeof(T));
            if (codec is null)
            {
                // Generated codecs register from the module initializer of the type's assembly.
                RuntimeHelpers.RunModuleConstructor(typeof(T).Module.ModuleHandle);
                codec = CodecCache<T>.Instance;
            }
            if (codec is null)
            {
                throw new SerializationException($"No codec for type {typeof(T)}. Mark it [GenerateSerializer] or register one with CodecRegistry.Register.");
            }
            CodecCache<T>.Instance = codec;
            return codec;
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2055", Justification = "Codec types are closed over types the application uses.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Codec types are closed over types the application uses.")]
    private static object? CreateCodec(Type type)
    {
        if (type == typeof(string)) return StringCodec.Instance;
        if (type == typeof(int)) return Int32Codec.Instance;
        if (type == typeof(long)) return Int64Codec.Instance;
        if (type == typeof(uint)) return UInt32Codec.Instance;
        if (type == typeof(ulong)) return UInt64Codec.Instance;
        if (type == typeof(bool)) return BooleanCodec.Instance;
        if (type == typeof(byte)) return ByteCodec.Instance;
        if (type == typeof(double)) return DoubleCodec.Instance;
        if (type == typeof(DateTimeOffset)) return DateTimeOffsetCodec.Instance;
        if (type == typeof(DateTime)) return DateTimeCodec.Instance;
        if (type == typeof(TimeSpan)) return TimeSpanCodec.Instance;
        if (type == typeof(Guid)) return GuidCodec.Instance;
        if (type == typeof(byte[])) return ByteArrayCodec.Instance;
        if (type == typeof(None)) return NoneCodec.Instance;
        if (typeof(Exception).IsAssignableFrom(type)) return Activator.CreateInstance(typeof(ExceptionCodec<>).MakeGenericType(type));
        if (type.IsEnum) return Activator.CreateInstance(typeof(EnumCodec<>).MakeGenericType(type));
        if (type.IsArray && type.GetArrayRank() == 1) return Activator.CreateInstance(typeof(ArrayCodec<>).MakeGenericType(type.GetElementType()!));
        if (type.IsGenericType)
        {
            var definition = type.GetGenericTypeDefinition();
            var args = type.GetGenericArguments();
            if (definition == typeof(Nullable<>)) return Activator.CreateInstance(typeof(NullableCodec<>).MakeGenericType(args));
            if (definition == typeof(List<>)) return Activator.CreateInstance(typeof(ListCodec<>).MakeGenericType(args));
            if (definition == typeof(IReadOnlyList<>) || definition == typeof(IList<>) || definition == typeof(IEnumerable<>) || definition == typeof(IReadOnlyCollection<>))
            {
                return Activator.CreateInstance(typeof(ReadOnlyListCodec<,>).MakeGenericType(args[0], type));
            }
            if (definition == typeof(Dictionary<,>)) return Activator.CreateInstance(typeof(DictionaryCodec<,>).MakeGenericType(args));
        }
        return null;
    }

    private static class CodecCache<T>
    {
        public static ICodec<T>? Instance;
    }
}
