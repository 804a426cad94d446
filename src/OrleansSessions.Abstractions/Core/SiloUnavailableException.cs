namespace OrleansSessions;

/// <summary>The call could not be delivered: no silo or gateway is reachable for its target.</summary>
public sealed class SiloUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SiloUnavailableException() { }

    /// <summary>Creates the exception with a message.</summary>
    public SiloUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SiloUnavailableException(string message, Exception innerException) : base(message, innerException) { }
}
