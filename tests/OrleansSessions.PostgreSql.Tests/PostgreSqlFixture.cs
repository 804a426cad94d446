using Npgsql;

namespace OrleansSessions.PostgreSql.Tests;

/// <summary>
/// The PostgreSQL server of the test run (ORLEANSSESSIONS_TEST_POSTGRES, default: the local server of .ci/postgres.sh),
/// with the schema applied once. An unreachable server fails every test with a message saying so: these tests never skip.
/// </summary>
public sealed class PostgreSqlFixture : IAsyncLifetime
{
    public const string DefaultConnectionString =
        "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=orleanssessions_test";

    public string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("ORLEANSSESSIONS_TEST_POSTGRES") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : DefaultConnectionString;

    /// <summary>A pool on the test database (public schema), shared by the tests.</summary>
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // A small pool: the server's max_connections is shared with the test clusters' silos (and other test runs).
        DataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(ConnectionString) { MaxPoolSize = 10 }.ConnectionString);
        try
        {
            await PostgreSqlSchema.ApplyAsync(DataSource);
        }
        catch (Exception ex)
        {
            var safe = new NpgsqlConnectionStringBuilder(ConnectionString) { Password = null };
            throw new InvalidOperationException(
                $"PostgreSQL is not usable with '{safe.ConnectionString}' (set ORLEANSSESSIONS_TEST_POSTGRES, " +
                $"or run .ci/postgres.sh as root to start a local server): {ex.Message}", ex);
        }
    }

    public async Task DisposeAsync() => await DataSource.DisposeAsync();

    public static string UniqueName(string purpose) => $"{purpose}-{Guid.NewGuid():N}";

    /// <summary>Runs a scalar query on the test database.</summary>
    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }
        var value = await command.ExecuteScalarAsync();
        return (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture)!;
    }
}

/// <summary>All PostgreSQL tests share one collection: they run one at a time (2 cores, one server).</summary>
[CollectionDefinition(Name)]
public sealed class PostgreSqlCollection : ICollectionFixture<PostgreSqlFixture>
{
    public const string Name = "PostgreSQL";
}
