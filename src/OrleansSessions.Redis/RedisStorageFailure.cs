using Orleans.Persistence.Redis;
using OrleansSessions.Sessions;
using StackExchange.Redis;

namespace OrleansSessions.Redis;

/// <summary>
/// Which exceptions mean that Redis is unavailable: StackExchange.Redis' (<see cref="RedisException"/>,
/// <see cref="RedisTimeoutException"/>), Orleans' Redis grain storage's (<see cref="RedisStorageException"/>, which
/// carries only the driver's message) and a failed first connect (<see cref="RedisUnavailableException"/>), anywhere in
/// the chain. The one place the Redis backend names them: its grain storages, deadline index and event log report them as
/// <see cref="SessionStorageUnavailableException"/>, and the session grains' call filter learns their namespaces for
/// Orleans' Redis reminders and clustering.
/// </summary>
internal static class RedisStorageFailure
{
    /// <summary>
    /// The namespace of StackExchange.Redis' exception types, which Orleans' exception serializer admits (a reminder
    /// table's failure goes from the silo running the reminder service to the grain that asked, which an exception type
    /// not admitted cannot).
    /// </summary>
    public const string DriverNamespace = "StackExchange.Redis";

    /// <summary>The namespaces of those exception types and of Orleans' Redis providers, for the session grains' call filter.</summary>
    public static readonly string[] NamespacePrefixes =
    [
        "StackExchange.Redis.", "Orleans.Persistence.Redis.", "Orleans.Reminders.Redis.", "Orleans.Clustering.Redis.", "OrleansSessions.Redis.",
    ];

    /// <summary>The <see cref="SessionStorageUnavailableException"/> replacing <paramref name="exception"/>, or null when it is no failure of Redis.</summary>
    public static SessionStorageUnavailableException? Translate(Exception exception)
        => Find(exception) is { } failure
            ? new SessionStorageUnavailableException($"The session storage (Redis) is unavailable: {RedisEndpoint.OneLine(failure.Message)}")
            : null;

    /// <summary>The failure of Redis in the chain of <paramref name="exception"/>, or null.</summary>
    public static Exception? Find(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is RedisException or RedisTimeoutException or RedisStorageException or RedisUnavailableException)
            {
                return current;
            }
        }
        return null;
    }
}
