namespace OrleansSessions.Sessions;

/// <summary>
/// The session's attributes and conversation were deleted when it ended, or at the end of Sessions:DataRetention
/// (HTTP 410 session_data_deleted).
/// </summary>
[GenerateSerializer, Alias("OrleansSessions.SessionDataDeletedException")]
public sealed class SessionDataDeletedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionDataDeletedException() : base("The session's data was deleted when it ended.") { }

    /// <summary>Creates the exception with a message.</summary>
    public SessionDataDeletedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SessionDataDeletedException(string message, Exception innerException) : base(message, innerException) { }
}
