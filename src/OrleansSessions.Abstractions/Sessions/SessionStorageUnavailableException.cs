namespace OrleansSessions.Sessions;

/// <summary>
/// The storage behind the session service (PostgreSQL, ...) could not complete a read or write; the call may be
/// retried. Raised by the silo in place of the storage driver's own exception, whose type a caller may not know.
/// </summary>
[GenerateSerializer, Alias("OrleansSessions.SessionStorageUnavailableException")]
public sealed class SessionStorageUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionStorageUnavailableException() : base("The session storage is unavailable.") { }

    /// <summary>Creates the exception with a message.</summary>
    public SessionStorageUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SessionStorageUnavailableException(string message, Exception innerException) : base(message, innerException) { }
}
