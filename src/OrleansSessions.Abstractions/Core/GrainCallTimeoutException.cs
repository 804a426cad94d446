namespace OrleansSessions;

/// <summary>A grain call got no response within the call timeout.</summary>
public sealed class GrainCallTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public GrainCallTimeoutException() { }

    /// <summary>Creates the exception with a message.</summary>
    public GrainCallTimeoutException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GrainCallTimeoutException(string message, Exception innerException) : base(message, innerException) { }
}
