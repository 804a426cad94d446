namespace OrleansSessions.Sessions;

/// <summary>A write exceeds one of the session data bounds (HTTP 413 data_too_large); nothing was changed.</summary>
[GenerateSerializer, Alias("OrleansSessions.SessionDataTooLargeException")]
public sealed class SessionDataTooLargeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SessionDataTooLargeException() : base("The session data is too large.") { }

    /// <summary>Creates the exception with a message.</summary>
    public SessionDataTooLargeException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SessionDataTooLargeException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception for the bound <paramref name="bound"/> (a configuration key) of <paramref name="limit"/>.</summary>
    public SessionDataTooLargeException(string message, string bound, long limit) : base(message)
    {
        Bound = bound;
        Limit = limit;
    }

    /// <summary>The bound exceeded: Sessions:MaxAttributesBytes or Sessions:MaxConversationBytes.</summary>
    [Id(0)]
    public string Bound { get; private set; } = "";

    /// <summary>The bound's value in bytes.</summary>
    [Id(1)]
    public long Limit { get; private set; }
}
