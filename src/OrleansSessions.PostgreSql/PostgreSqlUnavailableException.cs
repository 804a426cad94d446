namespace OrleansSessions.PostgreSql;

/// <summary>PostgreSQL could not be reached or refused the connection. The message names host, port, database and user, never the password.</summary>
public sealed class PostgreSqlUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PostgreSqlUnavailableException() : base("PostgreSQL is unavailable.") { }

    /// <summary>Creates the exception with a message.</summary>
    public PostgreSqlUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the connection error.</summary>
    public PostgreSqlUnavailableException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception for one server endpoint.</summary>
    public PostgreSqlUnavailableException(string host, int port, string database, string innerMessage, Exception innerException)
        : base($"Could not connect to PostgreSQL at host '{host}', port {port}, database '{database}': {innerMessage}", innerException)
    {
        Host = host;
        Port = port;
        Database = database;
    }

    /// <summary>The host from the connection string.</summary>
    public string? Host { get; }

    /// <summary>The port from the connection string.</summary>
    public int Port { get; }

    /// <summary>The database from the connection string.</summary>
    public string? Database { get; }
}
