namespace OrleansSessions.Sessions;

/// <summary>
/// A create named in continueFrom a session of another user, or one still live (HTTP 409 continuation_not_allowed);
/// nothing was created.
/// </summary>
[GenerateSerializer, Alias("OrleansSessions.ContinuationNotAllowedException")]
public sealed class ContinuationNotAllowedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ContinuationNotAllowedException() : base("The session cannot be continued.") { }

    /// <summary>Creates the exception with a message.</summary>
    public ContinuationNotAllowedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public ContinuationNotAllowedException(string message, Exception innerException) : base(message, innerException) { }
}
