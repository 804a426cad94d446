using Npgsql;
using OrleansSessions.Sessions;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// Which exceptions mean that PostgreSQL is unavailable: Npgsql's (<see cref="NpgsqlException"/>, with
/// <see cref="PostgresException"/> among them) anywhere in the chain, except a cancellation. The one place the
/// PostgreSQL backend names them: its grain storages and deadline index report them as
/// <see cref="SessionStorageUnavailableException"/>, and the session grains' call filter learns the driver's namespace
/// (<see cref="DriverNamespace"/>) for Orleans' ADO.NET reminders and clustering, which fail with Npgsql's exceptions.
/// </summary>
internal static class PostgreSqlStorageFailure
{
    /// <summary>
    /// The namespace of Npgsql's exception types: the session grains' call filter looks for it, and Orleans' exception
    /// serializer admits it (a reminder table's failure goes from the silo running the reminder service to the grain
    /// that asked, which an exception type not admitted cannot).
    /// </summary>
    public const string DriverNamespace = "Npgsql";

    /// <summary>The <see cref="SessionStorageUnavailableException"/> replacing <paramref name="exception"/>, or null when it is no failure of PostgreSQL.</summary>
    public static SessionStorageUnavailableException? Translate(Exception exception)
        => Find(exception) is { } driver
            ? new SessionStorageUnavailableException($"The session storage (PostgreSQL) is unavailable: {Reason(driver)}")
            : null;

    /// <summary>The Npgsql exception in the chain of <paramref name="exception"/>, or null (also for a cancellation).</summary>
    public static NpgsqlException? Find(Exception exception)
    {
        if (exception is OperationCanceledException)
        {
            return null; // Npgsql cancels with the server's "canceling statement" inside.
        }
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is NpgsqlException driver)
            {
                return driver;
            }
        }
        return null;
    }

    /// <summary>The driver's message on one line, with its cause when Npgsql keeps it inside ("Failed to connect to 127.0.0.1:1 (Connection refused)").</summary>
    public static string Reason(Exception exception)
    {
        var reason = exception.Message;
        if (exception is not PostgresException && exception.InnerException is { Message: { Length: > 0 } inner } && !reason.Contains(inner, StringComparison.Ordinal))
        {
            reason = $"{reason} ({inner})";
        }
        return PostgreSqlEndpoint.OneLine(reason);
    }
}
