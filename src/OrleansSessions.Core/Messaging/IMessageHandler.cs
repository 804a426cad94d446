namespace OrleansSessions.Messaging;

/// <summary>Receives the frames of a connection, on its receive loop.</summary>
internal interface IMessageHandler
{
    /// <summary>Handles one frame. <paramref name="payload"/> is valid only during the call. Throwing <see cref="Serialization.SerializationException"/> closes the connection.</summary>
    void OnFrame(MessageConnection connection, MessageKind kind, ReadOnlySpan<byte> payload);

    /// <summary>The connection closed; no more frames arrive.</summary>
    void OnClosed(MessageConnection connection, Exception? error);
}
