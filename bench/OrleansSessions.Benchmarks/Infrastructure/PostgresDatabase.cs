using Npgsql;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>A fresh database per measurement on the local PostgreSQL (bash .ci/postgres.sh), dropped and re-created.</summary>
internal static class PostgresDatabase
{
    public static async Task<string> RecreateAsync(string server, string name, int maxPoolSize)
    {
        var admin = new NpgsqlConnectionStringBuilder(server) { Database = "postgres", Pooling = false, SslMode = SslMode.Disable }.ConnectionString;
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using (var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection))
            {
                await drop.ExecuteNonQueryAsync();
            }
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        // PostgreSQL allows 100 connections and other test runs share it: keep each pool small.
        // Loopback: no TLS (Npgsql would otherwise negotiate it), the same for the product and the SQL baseline.
        return new NpgsqlConnectionStringBuilder(server) { Database = name, MaxPoolSize = maxPoolSize, SslMode = SslMode.Disable }.ConnectionString;
    }
}
