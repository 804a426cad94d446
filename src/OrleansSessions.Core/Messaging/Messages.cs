using System.Buffers;
using OrleansSessions.Invocation;
using OrleansSessions.Serialization;

namespace OrleansSessions.Messaging;

/// <summary>The header of a request frame.</summary>
internal struct RequestHeader
{
    public long CorrelationId;
    public GrainId Target;
    public int MethodInterfaceId;
    public int MethodId;
    public InvokeFlags Flags;
    public long CallChainId;
    public byte Hops;

    /// <summary>The header of a new call of <paramref name="request"/> on <paramref name="target"/>.</summary>
    public static RequestHeader For(GrainId target, GrainRequest request, long correlationId, long chainId, InvokeFlags extraFlags = InvokeFlags.None) => new()
    {
        CorrelationId = correlationId,
        Target = target,
        MethodInterfaceId = request.InterfaceId,
        MethodId = request.MethodId,
        Flags = request.Flags | extraFlags,
        CallChainId = chainId,
    };

    public readonly void Write(ref CodecWriter writer)
    {
        writer.WriteVarUInt64((ulong)CorrelationId);
        writer.WriteFixed32((uint)Target.InterfaceId);
        writer.WriteString(Target.Key);
        writer.WriteFixed32((uint)MethodInterfaceId);
        writer.WriteVarUInt32((uint)MethodId);
        writer.WriteVarUInt32((uint)Flags);
        writer.WriteVarUInt64((ulong)CallChainId);
        writer.WriteByte(Hops);
    }

    public static RequestHeader Read(ref CodecReader reader)
    {
        RequestHeader header;
        header.CorrelationId = (long)reader.ReadVarUInt64();
        var interfaceId = (int)reader.ReadFixed32();
        var key = reader.ReadString() ?? throw new SerializationException("Request without a grain key.");
        header.Target = new GrainId(interfaceId, key);
        header.MethodInterfaceId = (int)reader.ReadFixed32();
        header.MethodId = (int)reader.ReadVarUInt32();
        header.Flags = (InvokeFlags)reader.ReadVarUInt32();
        header.CallChainId = (long)reader.ReadVarUInt64();
        header.Hops = reader.ReadByte();
        return header;
    }
}

/// <summary>A request: header plus the arguments written by the generated request.</summary>
internal sealed class RequestMessage(RequestHeader header, GrainRequest request, IPendingCall? pending) : OutgoingMessage
{
    public override MessageKind Kind => MessageKind.Request;

    public override void WriteBody(ref CodecWriter writer)
    {
        header.Write(ref writer);
        request.WriteArguments(ref writer);
    }

    public override void OnSending(MessageConnection connection)
    {
        if (pending is not null)
        {
            pending.Connection = connection;
        }
    }

    public override void OnSendFailed(Exception exception) => pending?.Fail(exception);
}

/// <summary>A response with an already serialized payload.</summary>
internal sealed class ResponseMessage(long correlationId, ResponseStatus status, ArrayBufferWriter<byte>? payload, byte[]? rawPayload = null) : OutgoingMessage
{
    public override MessageKind Kind => MessageKind.Response;

    public override void WriteBody(ref CodecWriter writer)
    {
        writer.WriteVarUInt64((ulong)correlationId);
        writer.WriteByte((byte)status);
        if (payload is not null)
        {
            writer.WriteRaw(payload.WrittenSpan);
        }
        else if (rawPayload is not null)
        {
            writer.WriteRaw(rawPayload);
        }
    }

    public static ResponseMessage FromException(long correlationId, Exception exception)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        var writer = new CodecWriter(buffer);
        CodecRegistry.Get<Exception>().Write(ref writer, exception);
        writer.Commit();
        return new ResponseMessage(correlationId, ResponseStatus.Exception, buffer);
    }

    public static ResponseMessage Rejected(long correlationId, string reason)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        var writer = new CodecWriter(buffer);
        writer.WriteString(reason);
        writer.Commit();
        return new ResponseMessage(correlationId, ResponseStatus.Rejected, buffer);
    }
}

/// <summary>
/// A successful response whose payload the invocation writes straight into it: the message is its own buffer,
/// rented from the shared pool and returned once the frame is written (or the send failed), so the hot path
/// allocates one object per response.
/// </summary>
internal sealed class PooledResponseMessage(long correlationId) : OutgoingMessage, IBufferWriter<byte>
{
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(256);
    private int _written;

    public override MessageKind Kind => MessageKind.Response;

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0) => Ensure(sizeHint).AsMemory(_written);

    public Span<byte> GetSpan(int sizeHint = 0) => Ensure(sizeHint).AsSpan(_written);

    public override void WriteBody(ref CodecWriter writer)
    {
        writer.WriteVarUInt64((ulong)correlationId);
        writer.WriteByte((byte)ResponseStatus.Ok);
        writer.WriteRaw(_buffer.AsSpan(0, _written));
        Release();
    }

    public override void OnSendFailed(Exception exception) => Release();

    /// <summary>Gives the buffer back to the pool; the message must not be sent afterwards.</summary>
    public void Release()
    {
        var buffer = _buffer;
        _buffer = null;
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private byte[] Ensure(int sizeHint)
    {
        var buffer = _buffer ?? throw new InvalidOperationException("The response was already written.");
        var needed = _written + Math.Max(sizeHint, 1);
        if (needed <= buffer.Length)
        {
            return buffer;
        }
        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, buffer.Length * 2));
        buffer.AsSpan(0, _written).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(buffer);
        _buffer = larger;
        return larger;
    }
}

/// <summary>An event on a topic with its serialized payload.</summary>
internal sealed class EventMessage(string topic, bool forwarded, byte[] payload) : OutgoingMessage
{
    public override MessageKind Kind => MessageKind.Event;

    public override void WriteBody(ref CodecWriter writer)
    {
        writer.WriteString(topic);
        writer.WriteBoolean(forwarded);
        writer.WriteBytes(payload);
    }
}

/// <summary>A subscribe or unsubscribe of a topic.</summary>
internal sealed class TopicMessage(MessageKind kind, string topic) : OutgoingMessage
{
    public override MessageKind Kind => kind;

    public override void WriteBody(ref CodecWriter writer) => writer.WriteString(topic);
}

/// <summary>A frame without a body (GoAway).</summary>
internal sealed class SignalMessage(MessageKind kind) : OutgoingMessage
{
    public override MessageKind Kind => kind;

    public override void WriteBody(ref CodecWriter writer)
    {
    }
}

/// <summary>A probe or its answer: correlation id plus the sender's identity.</summary>
internal sealed class PingMessage(MessageKind kind, long correlationId, string sender) : OutgoingMessage
{
    public override MessageKind Kind => kind;

    public override void WriteBody(ref CodecWriter writer)
    {
        writer.WriteVarUInt64((ulong)correlationId);
        writer.WriteString(sender);
    }
}

/// <summary>The first frame on a connection: who connects, to which cluster, with which token.</summary>
internal sealed class HandshakeMessage(ConnectionRole role, string clusterId, string? token, string? siloAddress) : OutgoingMessage
{
    public override MessageKind Kind => MessageKind.Handshake;

    public override void WriteBody(ref CodecWriter writer)
    {
        writer.WriteByte((byte)role);
        writer.WriteString(clusterId);
        writer.WriteString(token);
        writer.WriteString(siloAddress);
    }
}

/// <summary>The answer to a handshake.</summary>
internal sealed class HandshakeAckMessage(bool accepted, string? reason, string? siloAddress) : OutgoingMessage
{
    public override MessageKind Kind => MessageKind.HandshakeAck;

    public override void WriteBody(ref CodecWriter writer)
    {
        writer.WriteBoolean(accepted);
        writer.WriteString(reason);
        writer.WriteString(siloAddress);
    }
}

/// <summary>Who opened a connection.</summary>
internal enum ConnectionRole : byte
{
    Client = 1,
    Silo = 2,
}
