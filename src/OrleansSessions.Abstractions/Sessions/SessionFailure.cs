using System.Data.Common;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using Orleans.Serialization;

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
}

/// <summary>A classified failure: its kind, a stable error code (the HTTP API's "error") and a one-line detail.</summary>
/// <param name="Kind">The kind of failure.</param>
/// <param name="Code">The error code: session_not_found, session_expired, session_closed, session_limit_exceeded, invalid_argument, silo_unavailable, timeout, storage_unavailable.</param>
/// <param name="Detail">What was wrong, in the caller's terms.</param>
public readonly record struct SessionFailure(SessionFailureKind Kind, string Code, string Detail)
{
    /// <summary>Classifies an exception thrown by a grain call or the client; <see cref="SessionFailureKind.Unknown"/> for anything else.</summary>
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
            ArgumentException e => new(SessionFailureKind.BadInput, "invalid_argument", WithoutParameter(e)),
            FormatException e => new(SessionFailureKind.BadInput, "invalid_argument", e.Message),
            SiloUnavailableException e => new(SessionFailureKind.Unavailable, "silo_unavailable", e.Message),
            OrleansMessageRejectionException e => new(SessionFailureKind.Unavailable, "silo_unavailable", e.Message),
            ConnectionFailedException e => new(SessionFailureKind.Unavailable, "silo_unavailable", e.Message),
            TimeoutException e => new(SessionFailureKind.Unavailable, "timeout", e.Message),
            SessionStorageUnavailableException e => new(SessionFailureKind.Unavailable, "storage_unavailable", e.Message),
            DbException e => new(SessionFailureKind.Unavailable, "storage_unavailable", e.Message),
            UnavailableExceptionFallbackException e when IsStorageType(e.ExceptionType) => new(SessionFailureKind.Unavailable, "storage_unavailable", e.Message),
            _ when IsStorageType(exception.GetType().FullName) || exception.InnerException is DbException => new(SessionFailureKind.Unavailable, "storage_unavailable", exception.Message),
            _ => new(SessionFailureKind.Unknown, "internal_error", exception.Message),
        };
    }

    private static bool IsStorageType(string? typeName)
        => typeName is not null && (typeName.StartsWith("Npgsql.", StringComparison.Ordinal) || typeName.StartsWith("StackExchange.Redis.", StringComparison.Ordinal));

    private static string WithoutParameter(ArgumentException e)
        => e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
}
