namespace OrleansSessions.SiloHost.Hosting;

/// <summary>The silo's configuration cannot work; the message names the key.</summary>
public sealed class SiloConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SiloConfigurationException() { }

    /// <summary>Creates the exception with a message naming the key.</summary>
    public SiloConfigurationException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SiloConfigurationException(string message, Exception innerException) : base(message, innerException) { }
}
