namespace OrleansSessions.Sessions;

/// <summary>
/// Malformed session data or details (HTTP 400 with <see cref="Code"/>): invalid_attribute_key, invalid_message,
/// invalid_labels or invalid_timeout. An <see cref="ArgumentException"/>, so callers that catch bad input catch it.
/// </summary>
[GenerateSerializer, Alias("OrleansSessions.InvalidSessionDataException")]
public sealed class InvalidSessionDataException : ArgumentException
{
    /// <summary>The code of an attribute key that breaks <see cref="SessionKeys.DataKeyRule"/> (or an attribute value that is not JSON).</summary>
    public const string InvalidAttributeKey = "invalid_attribute_key";

    /// <summary>The code of a malformed message (role, content, metadata) or an empty append.</summary>
    public const string InvalidMessage = "invalid_message";

    /// <summary>The code of malformed labels.</summary>
    public const string InvalidLabels = "invalid_labels";

    /// <summary>The code of a per-session timeout out of range.</summary>
    public const string InvalidTimeout = "invalid_timeout";

    /// <summary>Creates the exception.</summary>
    public InvalidSessionDataException() : base("The session data is malformed.") { }

    /// <summary>Creates the exception with a message.</summary>
    public InvalidSessionDataException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public InvalidSessionDataException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with its error code.</summary>
    public InvalidSessionDataException(string code, string message) : base(message) => Code = code;

    /// <summary>The error code (one of the constants of this class).</summary>
    [Id(0)]
    public string Code { get; private set; } = InvalidMessage;
}
