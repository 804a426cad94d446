using Npgsql;

namespace OrleansSessions.PostgreSql;

/// <summary>Where a connection string points (host, port, database): what error messages name. Never the password.</summary>
internal readonly record struct PostgreSqlEndpoint(string Host, int Port, string Database)
{
    public static PostgreSqlEndpoint From(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return new PostgreSqlEndpoint(
            string.IsNullOrWhiteSpace(builder.Host) ? "localhost" : builder.Host,
            builder.Port,
            builder.Database ?? builder.Username ?? "postgres");
    }

    /// <summary>"host:port".</summary>
    public override string ToString() => $"{Host}:{Port}";

    /// <summary>The message on one line (the silo host prints a start failure as one line).</summary>
    public static string OneLine(string message)
        => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
