using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using Orleans.Persistence;
using Orleans.Serialization;
using OrleansSessions.Grains;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Redis;
using StackExchange.Redis;

namespace OrleansSessions.Hosting;

/// <summary>Puts a silo's Orleans clustering, reminders and grain storage, and the session deadline index and event log, on Redis.</summary>
public static class SiloBuilderRedisExtensions
{
    /// <summary>The grain storage name Orleans streams keep their subscriptions in.</summary>
    public const string PubSubStoreName = "PubSubStore";

    /// <summary>
    /// Uses Redis at <c>Storage:ConnectionString</c> of the silo configuration; see
    /// <see cref="UseOrleansSessionsRedis(ISiloBuilder, string)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Storage:ConnectionString is missing, empty or not a valid StackExchange.Redis configuration string.</exception>
    public static ISiloBuilder UseOrleansSessionsRedis(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseOrleansSessionsRedis(builder.Configuration["Storage:ConnectionString"] ?? "");
    }

    /// <summary>
    /// Puts the silo on Redis, all over one StackExchange.Redis <see cref="IConnectionMultiplexer"/> per silo:
    /// <list type="bullet">
    /// <item>connects at the first silo lifecycle stage, before Orleans' providers start (an unreachable server fails
    /// the start with <see cref="RedisUnavailableException"/>);</item>
    /// <item>Orleans Redis clustering (<c>UseRedisClustering</c>; key <c>{ServiceId}/members/{ClusterId}</c>);</item>
    /// <item>Orleans Redis reminders (<c>UseRedisReminderService</c>; key <c>{ServiceId}/reminders</c>);</item>
    /// <item>Orleans Redis grain storage named <see cref="SessionStorage.Name"/> (session and user state) and
    /// <see cref="PubSubStoreName"/> (stream subscriptions), both with <c>DeleteStateOnClear</c>;</item>
    /// <item><see cref="ISessionDeadlineIndex"/> replaced by <see cref="RedisSessionDeadlineIndex"/>, scoped by the
    /// silo's ServiceId;</item>
    /// <item><see cref="ISessionEventLog"/> replaced by <see cref="RedisSessionEventLog"/> (a stream per partition),
    /// scoped by the silo's ServiceId, its dedup keys living Events:Retention plus
    /// <see cref="RedisSessionEventLog.DedupMargin"/>;</item>
    /// <item>failures of Redis reported as <see cref="OrleansSessions.Sessions.SessionStorageUnavailableException"/> by the
    /// grain storages, the deadline index and the event log, and by the session grains' call filter for Orleans' reminders and
    /// clustering (see <see cref="RedisStorageFailure"/>), StackExchange.Redis' exception types admitted to Orleans'
    /// exception serializer.</item>
    /// </list>
    /// Works before or after <c>AddOrleansSessions()</c>. Calling it again replaces the connection string.
    /// </summary>
    /// <remarks>
    /// Orleans' Redis clustering keeps the membership table in Redis and cannot recover from a Redis that restarts
    /// empty: run Redis with persistence (<c>appendonly yes</c>; <c>appendfsync always</c> to lose no acknowledged
    /// write on a Redis crash).
    /// </remarks>
    /// <param name="builder">The silo builder.</param>
    /// <param name="connectionString">A StackExchange.Redis configuration string such as <c>127.0.0.1:6379,password=...</c> (Storage:ConnectionString).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The connection string is empty or not a valid StackExchange.Redis configuration string; the message names Storage:ConnectionString.</exception>
    public static ISiloBuilder UseOrleansSessionsRedis(this ISiloBuilder builder, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = ParseConnectionString(connectionString);
        var services = builder.Services;
        var again = services.Any(d => d.ServiceType == typeof(RedisConnection));
        services.RemoveAll<RedisConnection>();
        services.AddSingleton(new RedisConnection(options));
        if (again)
        {
            return builder;
        }

        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, RedisConnectionStartup>();

        builder.UseRedisClustering(_ => { });
        services.AddOptions<RedisClusteringOptions>().Configure<IServiceProvider>((o, sp) =>
        {
            o.ConfigurationOptions = Options(sp);
            o.CreateMultiplexer = _ => Shared(sp);
        });
        builder.UseRedisReminderService(_ => { });
        services.AddOptions<RedisReminderTableOptions>().Configure<IServiceProvider>((o, sp) =>
        {
            o.ConfigurationOptions = Options(sp);
            o.CreateMultiplexer = _ => Shared(sp);
        });
        AddGrainStorage(builder, SessionStorage.Name);
        AddGrainStorage(builder, PubSubStoreName);

        // The grain storages, the deadline index and the event log report failures of Redis as
        // SessionStorageUnavailableException (a state read while a grain activates runs outside any grain call filter);
        // Orleans' reminders and clustering fail with their own exceptions, which the session grains' call filter replaces.
        services.AddGrainStorageFailureTranslation(SessionStorage.Name, RedisStorageFailure.Translate);
        services.AddGrainStorageFailureTranslation(PubSubStoreName, RedisStorageFailure.Translate);
        services.Configure<SessionStorageFailureOptions>(o =>
        {
            foreach (var prefix in RedisStorageFailure.NamespacePrefixes)
            {
                o.DriverNamespacePrefixes.Add(prefix);
            }
        });
        services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add(RedisStorageFailure.DriverNamespace));

        services.RemoveAll<ISessionDeadlineIndex>();
        services.AddSingleton<ISessionDeadlineIndex>(sp =>
        {
            var connection = sp.GetRequiredService<RedisConnection>();
            return new RedisSessionDeadlineIndex(connection.GetAsync, sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId);
        });
        services.RemoveAll<ISessionEventLog>();
        services.AddSingleton<ISessionEventLog>(sp => new RedisSessionEventLog(
            sp.GetRequiredService<RedisConnection>().GetAsync,
            sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            sp.GetRequiredService<Serializer<OrleansSessions.Sessions.SessionEvent>>(),
            sp.GetRequiredService<IOptions<EventLogOptions>>().Value.Retention));
        return builder;
    }

    private static void AddGrainStorage(ISiloBuilder builder, string name)
        => builder.AddRedisGrainStorage(name, (OptionsBuilder<RedisStorageOptions> options) =>
            options.Configure<IServiceProvider>((o, sp) =>
            {
                o.ConfigurationOptions = Options(sp);
                o.CreateMultiplexer = _ => Shared(sp);
                // Ended sessions that are forgotten leave no key behind.
                o.DeleteStateOnClear = true;
            }));

    private static ConfigurationOptions Options(IServiceProvider services) => services.GetRequiredService<RedisConnection>().Options;

    private static async Task<(IConnectionMultiplexer Multiplexer, bool IsShared)> Shared(IServiceProvider services)
        => (await services.GetRequiredService<RedisConnection>().GetAsync().ConfigureAwait(false), true);

    /// <summary>Throws <see cref="ArgumentException"/> naming Storage:ConnectionString (never its password) when it is unusable.</summary>
    internal static ConfigurationOptions ParseConnectionString(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException(
                "Storage:ConnectionString must be set to a StackExchange.Redis configuration string (host:port[,password=...]) to use Redis.",
                nameof(connectionString));
        }
        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(connectionString);
        }
        catch (Exception exception) when (exception is ArgumentException or FormatException or InvalidOperationException or NotSupportedException)
        {
            throw new ArgumentException($"Storage:ConnectionString is not a valid StackExchange.Redis configuration string: {RedisEndpoint.OneLine(exception.Message)}", nameof(connectionString), exception);
        }
        if (options.EndPoints.Count == 0)
        {
            throw new ArgumentException("Storage:ConnectionString names no Redis endpoint (host:port).", nameof(connectionString));
        }
        foreach (var endpoint in options.EndPoints)
        {
            if (endpoint is System.Net.DnsEndPoint { Host: var host } && (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c == '=')))
            {
                throw new ArgumentException($"Storage:ConnectionString is not a valid StackExchange.Redis configuration string: '{host}' is not a host name.", nameof(connectionString));
            }
        }
        return options;
    }
}
