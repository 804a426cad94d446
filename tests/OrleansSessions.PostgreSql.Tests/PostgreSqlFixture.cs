using Npgsql;

namespace OrleansSessions.PostgreSql.Tests;

/// <summary>
/// The PostgreSQL server of the test run (ORLEANSSESSIONS_TEST_POSTGRES, default: local server from .ci/postgres.sh).
/// An unreachable server fails every test with a message saying so: these tests never skip.
/// </summary>
public sealed class PostgreSqlFixture : IAsyncLifetime
{
    public const string DefaultConnectionString =
        "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=orleanssessions_test";

    public string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("ORLEANSSESSIONS_TEST_POSTGRES") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : DefaultConnectionString;

    public async Task InitializeAsync()
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Timeout = 5 };
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync();
            await using var database = NewDatabase("fixture");
            await database.EnsureSchemaAsync();
        }
        catch (Exception ex)
        {
            var safe = new NpgsqlConnectionStringBuilder(ConnectionString) { Password = null };
            throw new InvalidOperationException(
                $"PostgreSQL is not reachable with '{safe.ConnectionString}' (set ORLEANSSESSIONS_TEST_POSTGRES, " +
                $"or run .ci/postgres.sh as root to start a local server): {ex.Message}", ex);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A pool for a cluster id that no other test uses.</summary>
    public PostgreSqlDatabase NewDatabase(string purpose, int maxConcurrentFlushes = 2) => new(new PostgreSqlOptions
    {
        ConnectionString = ConnectionString,
        ClusterId = UniqueName(purpose),
        MaxConcurrentFlushes = maxConcurrentFlushes,
    });

    public static string UniqueName(string purpose) => $"{purpose}-{Guid.NewGuid():N}";
}

/// <summary>All PostgreSQL tests share one collection: they run one at a time, so the restart test cannot break the others.</summary>
[CollectionDefinition(Name)]
public sealed class PostgreSqlCollection : ICollectionFixture<PostgreSqlFixture>
{
    public const string Name = "PostgreSQL";
}
