namespace OrleansSessions.Sessions;

/// <summary>A data write named a data version other than the session's (HTTP 409 version_conflict); nothing was changed.</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionVersionConflictException")]
public sealed class SessionVersionConflictException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionVersionConflictException() : base("The session's data version has changed.") { }

    /// <summary>Creates the exception with a message.</summary>
    public SessionVersionConflictException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SessionVersionConflictException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with the session's current data version.</summary>
    public SessionVersionConflictException(string message, long currentVersion) : base(message) => CurrentVersion = currentVersion;

    /// <summary>The session's data version now.</summary>
    [Id(0)]
    public long CurrentVersion { get; private set; }
}
