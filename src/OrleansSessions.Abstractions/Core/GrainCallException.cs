namespace OrleansSessions;

/// <summary>A grain call failed with an exception whose type could not be re-created on the caller's side.</summary>
public sealed class GrainCallException : Exception
{
    /// <summary>Creates the exception.</summary>
    public GrainCallException() { }

    /// <summary>Creates the exception with a message.</summary>
    public GrainCallException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GrainCallException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception naming the remote exception type.</summary>
    public GrainCallException(string remoteTypeName, string message) : base(message)
    {
        RemoteTypeName = remoteTypeName;
    }

    /// <summary>The full name of the exception type thrown by the grain.</summary>
    public string? RemoteTypeName { get; }
}
