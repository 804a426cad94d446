namespace OrleansSessions.Sessions;

/// <summary>The session has expired.</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionExpiredException")]
public sealed class SessionExpiredException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionExpiredException() : base("The session has expired.") { }

    /// <summary>Creates the exception with a message.</summary>
    public SessionExpiredException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SessionExpiredException(string message, Exception innerException) : base(message, innerException) { }
}
