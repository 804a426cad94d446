namespace OrleansSessions.Messaging;

/// <summary>A peer sent a frame that breaks the protocol; its connection is closed.</summary>
public sealed class ProtocolViolationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ProtocolViolationException() { }

    /// <summary>Creates the exception with a message.</summary>
    public ProtocolViolationException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public ProtocolViolationException(string message, Exception innerException) : base(message, innerException) { }
}
