namespace OrleansSessions.Sessions;

/// <summary>The session does not exist.</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionNotFoundException")]
public sealed class SessionNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionNotFoundException() : base("The session does not exist.") { }

    /// <summary>Creates the exception with a message.</summary>
    public SessionNotFoundException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SessionNotFoundException(string message, Exception innerException) : base(message, innerException) { }
}
