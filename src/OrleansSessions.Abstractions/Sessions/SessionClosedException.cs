namespace OrleansSessions.Sessions;

/// <summary>The session was closed.</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionClosedException")]
public sealed class SessionClosedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionClosedException() : base("The session was closed.") { }

    /// <summary>Creates the exception with a message.</summary>
    public SessionClosedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SessionClosedException(string message, Exception innerException) : base(message, innerException) { }
}
