namespace OrleansSessions.Serialization;

/// <summary>A message could not be serialized or deserialized.</summary>
public sealed class SerializationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SerializationException() { }

    /// <summary>Creates the exception with a message.</summary>
    public SerializationException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SerializationException(string message, Exception innerException) : base(message, innerException) { }
}
