using StackExchange.Redis;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>
/// The bench's durable Redis (bench/run.sh starts its own redis-server with appendonly yes, appendfsync always on
/// REDIS_DURABLE_PORT): each measurement empties the database of its connection string first (FLUSHDB), so that it
/// starts on its own key space (the ServiceId is fixed, "orleans-sessions").
/// </summary>
internal static class RedisKeySpace
{
    /// <summary>Empties the database named by <paramref name="connectionString"/> and returns a connection to it.</summary>
    public static async Task<ConnectionMultiplexer> FlushAsync(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AllowAdmin = true;
        var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var database = options.DefaultDatabase ?? 0;
        foreach (var endpoint in connection.GetEndPoints())
        {
            await connection.GetServer(endpoint).FlushDatabaseAsync(database);
        }
        return connection;
    }

    /// <summary>INFO stats total_commands_processed of the server.</summary>
    public static async Task<long> CommandsAsync(ConnectionMultiplexer connection)
    {
        var total = 0L;
        foreach (var endpoint in connection.GetEndPoints())
        {
            var info = await connection.GetServer(endpoint).InfoAsync("stats");
            foreach (var pair in info.SelectMany(g => g))
            {
                if (pair.Key == "total_commands_processed")
                {
                    total += long.Parse(pair.Value, System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }
        return total;
    }
}
