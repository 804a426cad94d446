using OrleansSessions.Serialization;

namespace OrleansSessions.Messaging;

/// <summary>A message waiting in a connection's send queue; serialized by the connection's writer loop.</summary>
internal abstract class OutgoingMessage
{
    public abstract MessageKind Kind { get; }

    /// <summary>Writes everything after the kind byte.</summary>
    public abstract void WriteBody(ref CodecWriter writer);

    /// <summary>True for markers that are never written to the wire.</summary>
    public virtual bool IsLocalOnly => false;

    /// <summary>Called just before the message is queued on <paramref name="connection"/>.</summary>
    public virtual void OnSending(MessageConnection connection)
    {
    }

    /// <summary>Called when the message cannot be sent (too large, connection closed).</summary>
    public virtual void OnSendFailed(Exception exception)
    {
    }
}

/// <summary>A message whose body is already serialized.</summary>
internal sealed class RawMessage(MessageKind kind, byte[] body, int length) : OutgoingMessage
{
    public override MessageKind Kind => kind;

    public override void WriteBody(ref CodecWriter writer)
    {
        writer.WriteRaw(body.AsSpan(0, length));
    }
}
