namespace OrleansSessions.Sessions;

/// <summary>A session with this id already exists.</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionAlreadyExistsException")]
public sealed class SessionAlreadyExistsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionAlreadyExistsException() : base("A session with this id already exists.") { }

    /// <summary>Creates the exception with a message.</summary>
    public SessionAlreadyExistsException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SessionAlreadyExistsException(string message, Exception innerException) : base(message, innerException) { }
}
