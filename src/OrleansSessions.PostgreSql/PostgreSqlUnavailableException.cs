namespace OrleansSessions.PostgreSql;

/// <summary>
/// PostgreSQL could not be reached or refused the connection. The message is one line naming host, port and
/// database, never the password: "PostgreSQL at host:port (database 'x') is unreachable: ...".
/// </summary>
public sealed class PostgreSqlUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public PostgreSqlUnavailableException() : base("PostgreSQL is unreachable.") { }

    /// <summary>Creates the exception with a message.</summary>
    public PostgreSqlUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the connection error.</summary>
    public PostgreSqlUnavailableException(string message, Exception innerException) : base(message, innerException) { }

    private PostgreSqlUnavailableException(PostgreSqlEndpoint endpoint, string reason, Exception innerException)
        : base($"PostgreSQL at {endpoint} (database '{endpoint.Database}') is unreachable: {reason}", innerException)
    {
        Host = endpoint.Host;
        Port = endpoint.Port;
        Database = endpoint.Database;
    }

    /// <summary>The host from the connection string.</summary>
    public string? Host { get; }

    /// <summary>The port from the connection string.</summary>
    public int Port { get; }

    /// <summary>The database from the connection string.</summary>
    public string? Database { get; }

    internal static PostgreSqlUnavailableException For(PostgreSqlEndpoint endpoint, Exception exception)
        => new(endpoint, PostgreSqlStorageFailure.Reason(exception), exception);
}
