using StackExchange.Redis;

namespace OrleansSessions.Redis.Tests;

/// <summary>
/// The Redis server of the test run (ORLEANSSESSIONS_TEST_REDIS, default 127.0.0.1:6380: the instance scripts/test.sh
/// starts). An unreachable server fails every test with a message saying so: these tests never skip.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    public const string DefaultConnectionString = "127.0.0.1:6380";

    public static string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("ORLEANSSESSIONS_TEST_REDIS") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : DefaultConnectionString;

    public IConnectionMultiplexer Connection { get; private set; } = null!;

    public IDatabase Database => Connection.GetDatabase();

    public async Task InitializeAsync()
    {
        try
        {
            Connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException(
                $"Redis is not reachable at '{ConnectionString}' (set ORLEANSSESSIONS_TEST_REDIS, or run scripts/test.sh, " +
                $"which starts redis-server on 127.0.0.1:6380): {ex.Message}", ex);
        }
    }

    public async Task DisposeAsync() => await Connection.DisposeAsync();

    public static string UniqueName(string purpose) => $"{purpose}-{Guid.NewGuid():N}";
}

/// <summary>The Redis tests that share the fixture run one at a time (2 cores, one server).</summary>
[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisFixture>
{
    public const string Name = "Redis";
}
