using OrleansSessions.Sessions;

namespace OrleansSessions.Redis;

/// <summary>
/// An incoming call filter for the session grains on Redis: a failure of Redis (StackExchange.Redis' exceptions, or
/// the Orleans Redis providers' own, which carry only a message) leaves the silo as a
/// <see cref="SessionStorageUnavailableException"/>, which every caller can classify (storage_unavailable) and retry.
/// </summary>
internal sealed class RedisStorageFailureFilter : IIncomingGrainCallFilter
{
    private static readonly string[] RedisNamespaces =
    [
        "StackExchange.Redis.", "Orleans.Persistence.Redis.", "Orleans.Reminders.Redis.", "Orleans.Clustering.Redis.", "OrleansSessions.Redis.",
    ];

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception exception) when (IsSessionGrain(context) && FindRedisFailure(exception) is { } redis)
        {
            throw new SessionStorageUnavailableException($"The session storage is unavailable: {RedisEndpoint.OneLine(redis.Message)}");
        }
    }

    private static bool IsSessionGrain(IIncomingGrainCallContext context)
        => context.Grain is ISessionGrain or IUserSessionsGrain or IJanitorGrain;

    /// <summary>The Redis failure in the chain of <paramref name="exception"/>, or null.</summary>
    internal static Exception? FindRedisFailure(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            var name = current.GetType().FullName;
            if (name is not null && RedisNamespaces.Any(n => name.StartsWith(n, StringComparison.Ordinal)))
            {
                return current;
            }
        }
        return null;
    }
}
