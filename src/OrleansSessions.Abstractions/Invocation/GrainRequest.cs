using System.Buffers;
using OrleansSessions.Serialization;

namespace OrleansSessions.Invocation;

/// <summary>
/// One call of one grain method with its arguments. The code generator emits a sealed subclass per
/// grain interface method; the runtime passes it directly to a local activation or serializes its
/// arguments for a remote one.
/// </summary>
public abstract class GrainRequest
{
    /// <summary>The id of the interface that declares the method.</summary>
    public abstract int InterfaceId { get; }

    /// <summary>The method's ordinal within its interface.</summary>
    public abstract int MethodId { get; }

    /// <summary>The method name, for logs and errors.</summary>
    public abstract string MethodName { get; }

    /// <summary>How the method is invoked.</summary>
    public virtual InvokeFlags Flags => InvokeFlags.None;

    /// <summary>Writes the arguments.</summary>
    public abstract void WriteArguments(ref CodecWriter writer);

    /// <summary>Reads the arguments; throws <see cref="SerializationException"/> on malformed input.</summary>
    public abstract void ReadArguments(ref CodecReader reader);

    /// <summary>Invokes the method on <paramref name="grain"/> and writes the serialized result into <paramref name="output"/>.</summary>
    public abstract ValueTask InvokeAndWriteResultAsync(object grain, IBufferWriter<byte> output);

    /// <inheritdoc />
    public override string ToString() => $"{GrainInterfaceRegistry.GetName(InterfaceId)}.{MethodName}";
}

/// <summary>A request whose method returns <typeparamref name="TResult"/> (<see cref="None"/> for no value).</summary>
public abstract class GrainRequest<TResult> : GrainRequest
{
    /// <summary>Invokes the method on <paramref name="grain"/>.</summary>
    public abstract ValueTask<TResult> InvokeAsync(object grain);

    /// <inheritdoc />
    public override ValueTask InvokeAndWriteResultAsync(object grain, IBufferWriter<byte> output)
    {
        var pending = InvokeAsync(grain);
        if (pending.IsCompletedSuccessfully)
        {
            WriteResult(pending.Result, output);
            return ValueTask.CompletedTask;
        }
        return Awaited(pending, output);

        static async ValueTask Awaited(ValueTask<TResult> pending, IBufferWriter<byte> output)
            => WriteResult(await pending.ConfigureAwait(false), output);
    }

    /// <summary>Writes a result value.</summary>
    public static void WriteResult(TResult result, IBufferWriter<byte> output)
    {
        var writer = new CodecWriter(output);
        CodecRegistry.Get<TResult>().Write(ref writer, result);
        writer.Commit();
    }

    /// <summary>Reads a result value written by <see cref="WriteResult"/>.</summary>
    public static TResult ReadResult(ReadOnlySpan<byte> data) => CodecRegistry.Deserialize<TResult>(data);
}
