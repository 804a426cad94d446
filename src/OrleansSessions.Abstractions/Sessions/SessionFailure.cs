using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansSessions.Sessions;

/// <summary>What kind of failure a call into the session service met; one classification for HTTP status codes and CLI exit codes.</summary>
public enum SessionFailureKind
{
    /// <summary>Not a known failure: the service's own fault.</summary>
    Unknown = 0,
    /// <summary>The caller's input was malformed (400, exit 2).</summary>
    BadInput,
    /// <summary>The session does not exist (404, exit 3).</summary>
    NotFound,
    /// <summary>The session has ended, or the user is at the session limit (409, exit 4).</summary>
    Conflict,
    /// <summary>The cluster, a silo or storage could not answer (503, exit 5).</summary>
    Unavailable,
    /// <summary>A session data write exceeds a bound (413, exit 2).</summary>
    TooLarge,
    /// <summary>The session's data was deleted at its end (410, exit 3).</summary>
    Gone,
}

/// <summary>A classified failure: its kind, a stable error code (the HTTP API's "error") and a one-line detail.</summary>
/// <param name="Kind">The kind of failure.</param>
/// <param name="Code">The error code: session_not_found, session_expired, session_closed, session_limit_exceeded, invalid_argument, silo_unavailable, timeout, storage_unavailable, and for session data data_too_large, invalid_attribute_key, invalid_message, invalid_labels, invalid_timeout, version_conflict, continuation_not_allowed, session_data_deleted; for the event log cursor_expired.</param>
/// <param name="Detail">What was wrong, in the caller's terms.</param>
public readonly record struct SessionFailure(SessionFailureKind Kind, string Code, string Detail)
{
    /// <summary>
    /// Classifies an exception thrown by a grain call or the client; <see cref="SessionFailureKind.Unknown"/> for anything
    /// else. Storage drivers' exceptions are not known here: each storage backend reports its failures as
    /// <see cref="SessionStorageUnavailableException"/>.
    /// </summary>
    public static SessionFailure Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            exception = aggregate.InnerExceptions[0];
        }
        return exception switch
        {
            SessionNotFoundException e => new(SessionFailureKind.NotFound, "session_not_found", e.Message),
            SessionExpiredException e => new(SessionFailureKind.Conflict, "session_expired", e.Message),
            SessionClosedException e => new(SessionFailureKind.Conflict, "session_closed", e.Message),
            SessionLimitExceededException e => new(SessionFailureKind.Conflict, "session_limit_exceeded", e.Message),
            SessionDataTooLargeException e => new(SessionFailureKind.TooLarge, "data_too_large", e.Message),
            SessionVersionConflictException e => new(SessionFailureKind.Conflict, "version_conflict", e.Message),
            ContinuationNotAllowedException e => new(SessionFailureKind.Conflict, "continuation_not_allowed", e.Message),
            SessionDataDeletedException e => new(SessionFailureKind.Gone, "session_data_deleted", e.Message),
            EventCursorExpiredException e => new(SessionFailureKind.Gone, "cursor_expired", e.Message),
            InvalidSessionDataException e => new(SessionFailureKind.BadInput, e.Code, WithoutParameter(e)),
            ArgumentException e => new(SessionFailureKind.BadInput, "invalid_argument", WithoutParameter(e)),
            FormatException e => new(SessionFailureKind.BadInput, "invalid_argument", e.Message),
            SiloUnavailableException e => new(SessionFailureKind.Unavailable, "silo_unavailable", e.Message),
            OrleansMessageRejectionException e => new(SessionFailureKind.Unavailable, "silo_unavailable", e.Message),
            ConnectionFailedException e => new(SessionFailureKind.Unavailable, "silo_unavailable", e.Message),
            TimeoutException e => new(SessionFailureKind.Unavailable, "timeout", e.Message),
            SessionStorageUnavailableException e => new(SessionFailureKind.Unavailable, "storage_unavailable", e.Message),
            // A state read failing while a grain activates reaches the caller wrapped by Orleans' storage bridge.
            _ when Inner<SessionStorageUnavailableException>(exception) is { } e => new(SessionFailureKind.Unavailable, "storage_unavailable", e.Message),
            _ => new(SessionFailureKind.Unknown, "internal_error", exception.Message),
        };
    }

    private static T? Inner<T>(Exception exception) where T : Exception
    {
        for (var current = exception.InnerException; current is not null; current = current.InnerException)
        {
            if (current is T found)
            {
                return found;
            }
        }
        return null;
    }

    private static string WithoutParameter(ArgumentException e)
        => e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
}
