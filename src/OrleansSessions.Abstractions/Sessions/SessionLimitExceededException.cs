namespace OrleansSessions.Sessions;

/// <summary>The user has reached the maximum number of sessions.</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionLimitExceededException")]
public sealed class SessionLimitExceededException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionLimitExceededException() : base("The user has reached the maximum number of sessions.") { }

    /// <summary>Creates the exception with a message.</summary>
    public SessionLimitExceededException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SessionLimitExceededException(string message, Exception innerException) : base(message, innerException) { }
}
