using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>The process exit codes of the client app.</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Ok = 0;

    /// <summary>An unexpected failure.</summary>
    public const int Failure = 1;

    /// <summary>Bad input: unknown command or option, malformed session or user id, bad gateway endpoint, malformed session data (invalid_attribute_key, invalid_message, invalid_labels, invalid_timeout) or data over a bound (data_too_large).</summary>
    public const int BadInput = 2;

    /// <summary>The session does not exist, or its data was deleted when it ended (session_data_deleted).</summary>
    public const int NotFound = 3;

    /// <summary>The session has ended (expired or closed), the user is at the session limit, a data write named another data version (version_conflict), or a continuation was refused (continuation_not_allowed).</summary>
    public const int Conflict = 4;

    /// <summary>No gateway answered, or the cluster did not answer in time.</summary>
    public const int Unavailable = 5;

    /// <summary>The exit code of a failure kind: the one classification shared with the HTTP API's status codes.</summary>
    public static int For(SessionFailureKind kind) => kind switch
    {
        SessionFailureKind.BadInput or SessionFailureKind.TooLarge => BadInput,
        SessionFailureKind.NotFound or SessionFailureKind.Gone => NotFound,
        SessionFailureKind.Conflict => Conflict,
        SessionFailureKind.Unavailable => Unavailable,
        _ => Failure,
    };
}
