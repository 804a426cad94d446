using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansSessions.Grains;
using OrleansSessions.Grains.Storage;
using OrleansSessions.PostgreSql;

namespace OrleansSessions.Hosting;

/// <summary>Puts a silo's Orleans clustering, reminders and grain storage, and the session deadline index and event log, on PostgreSQL.</summary>
public static class SiloBuilderPostgreSqlExtensions
{
    /// <summary>The ADO.NET invariant of Npgsql, which Orleans' ADO.NET providers are given.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>The grain storage name Orleans streams keep their subscriptions in.</summary>
    public const string PubSubStoreName = "PubSubStore";

    /// <summary>
    /// The service key of the silo's one <see cref="NpgsqlDataSource"/> (a keyed singleton): Orleans' ADO.NET providers,
    /// the grain storage, the deadline index, the event log and the schema all open their connections from it, so the connection
    /// string's <c>Maximum Pool Size</c> (Npgsql's default: 100) is the most connections the silo holds.
    /// </summary>
    public const string DataSourceServiceKey = "OrleansSessions.PostgreSql";

    /// <summary>
    /// Uses PostgreSQL at <c>Storage:ConnectionString</c> of the silo configuration; see
    /// <see cref="UseOrleansSessionsPostgreSql(ISiloBuilder, string)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Storage:ConnectionString is missing, empty or not a valid Npgsql connection string.</exception>
    public static ISiloBuilder UseOrleansSessionsPostgreSql(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseOrleansSessionsPostgreSql(builder.Configuration["Storage:ConnectionString"] ?? "");
    }

    /// <summary>
    /// Puts the silo on PostgreSQL, all over one <see cref="NpgsqlDataSource"/> per silo:
    /// <list type="bullet">
    /// <item>applies <see cref="PostgreSqlSchema"/> at the first silo lifecycle stage, before Orleans' providers start;</item>
    /// <item>Orleans ADO.NET clustering (<c>UseAdoNetClustering</c>, invariant "Npgsql");</item>
    /// <item>Orleans ADO.NET reminders (<c>UseAdoNetReminderService</c>);</item>
    /// <item><see cref="PostgreSqlGrainStorage"/> named <see cref="SessionStorage.Name"/> (session and user state in
    /// <see cref="PostgreSqlSchema.StateTable"/>; reads, writes and clears join a group commit, options
    /// <see cref="PostgreSqlGrainStorageOptions"/> named by the storage name);</item>
    /// <item>Orleans ADO.NET grain storage named <see cref="PubSubStoreName"/> (stream subscriptions), with
    /// <c>DeleteStateOnClear</c>;</item>
    /// <item><see cref="ISessionDeadlineIndex"/> replaced by <see cref="PostgreSqlSessionDeadlineIndex"/>, scoped by the
    /// silo's ServiceId;</item>
    /// <item><see cref="ISessionEventLog"/> replaced by <see cref="PostgreSqlSessionEventLog"/>, scoped by the silo's
    /// ServiceId (events in <see cref="PostgreSqlSchema.EventsTable"/>, Orleans' binary serialization);</item>
    /// <item>failures of PostgreSQL (Npgsql's exceptions) reported as
    /// <see cref="OrleansSessions.Sessions.SessionStorageUnavailableException"/> by the grain storages, the deadline
    /// index and the event log, and by the session grains' call filter for Orleans' reminders and clustering.</item>
    /// </list>
    /// Works before or after <c>AddOrleansSessions()</c>, which adds its in-memory deadline index and event log with TryAdd.
    /// Calling it again replaces the connection string.
    /// </summary>
    /// <remarks>
    /// The silo holds at most the connection string's <c>Maximum Pool Size</c> connections (Npgsql's default: 100):
    /// every provider above opens its connections from the one data source (<see cref="DataSourceServiceKey"/>, with
    /// the host's logger factory), and a burst beyond the ceiling waits in that pool's queue rather than opening more.
    /// A server that cannot be reached at start fails the silo's start with <see cref="PostgreSqlUnavailableException"/>
    /// ("PostgreSQL at host:port (database 'x') is unreachable: ..."). Clients of the cluster use
    /// <c>UseAdoNetClustering</c> with the same connection string and invariant, once a silo has applied the schema.
    /// </remarks>
    /// <param name="builder">The silo builder.</param>
    /// <param name="connectionString">An Npgsql connection string (Storage:ConnectionString).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The connection string is empty or not a valid Npgsql connection string; the message names Storage:ConnectionString.</exception>
    public static ISiloBuilder UseOrleansSessionsPostgreSql(this ISiloBuilder builder, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var settings = new PostgreSqlSettings(ValidateConnectionString(connectionString));
        var services = builder.Services;
        var again = services.Any(d => d.ServiceType == typeof(PostgreSqlSettings));
        services.RemoveAll<PostgreSqlSettings>();
        services.AddSingleton(settings);
        if (again)
        {
            return builder;
        }

        services.AddKeyedSingleton<NpgsqlDataSource>(DataSourceServiceKey,
            (sp, _) => CreateDataSource(sp.GetRequiredService<PostgreSqlSettings>().ConnectionString, sp.GetService<ILoggerFactory>()));
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, PostgreSqlSchemaStartup>();

        builder.UseAdoNetClustering((OptionsBuilder<AdoNetClusteringSiloOptions> options) =>
            options.Configure<IServiceProvider>((o, sp) =>
            {
                o.Invariant = Invariant;
                o.ConnectionString = null;
                o.DataSource = DataSource(sp);
            }));
        builder.UseAdoNetReminderService((OptionsBuilder<AdoNetReminderTableOptions> options) =>
            options.Configure<IServiceProvider>((o, sp) =>
            {
                o.Invariant = Invariant;
                o.ConnectionString = null;
                o.DataSource = DataSource(sp);
            }));
        AddStateStorage(services, SessionStorage.Name);
        AddGrainStorage(builder, PubSubStoreName);

        // The grain storages, the deadline index and the event log report failures of PostgreSQL as
        // SessionStorageUnavailableException (a state read while a grain activates runs outside any grain call filter);
        // Orleans' reminders and clustering fail with Npgsql's exceptions, which the session grains' call filter replaces.
        services.AddGrainStorageFailureTranslation(PubSubStoreName, PostgreSqlStorageFailure.Translate);
        services.Configure<OrleansSessions.Grains.Options.SessionStorageFailureOptions>(o => o.DriverNamespacePrefixes.Add(PostgreSqlStorageFailure.DriverNamespace + "."));
        services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add(PostgreSqlStorageFailure.DriverNamespace));

        services.RemoveAll<ISessionDeadlineIndex>();
        services.AddSingleton<ISessionDeadlineIndex>(sp =>
            new PostgreSqlSessionDeadlineIndex(DataSource(sp), sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId));
        services.RemoveAll<ISessionEventLog>();
        services.AddSingleton<ISessionEventLog>(sp => new PostgreSqlSessionEventLog(
            DataSource(sp),
            sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            sp.GetRequiredService<Serializer<OrleansSessions.Sessions.SessionEvent>>()));
        return builder;
    }

    /// <summary>Session and user state: <see cref="PostgreSqlGrainStorage"/>, whose writes join a group commit.</summary>
    private static void AddStateStorage(IServiceCollection services, string name)
    {
        services.AddOptions<PostgreSqlGrainStorageOptions>(name)
            .Validate(o => o.MaxGroupSize >= 1, $"{nameof(PostgreSqlGrainStorageOptions.MaxGroupSize)} of the grain storage '{name}' must be >= 1")
            .Validate(o => o.MaxGroupsInFlight >= 1, $"{nameof(PostgreSqlGrainStorageOptions.MaxGroupsInFlight)} of the grain storage '{name}' must be >= 1");
        services.AddTransient<IPostConfigureOptions<PostgreSqlGrainStorageOptions>, DefaultStorageProviderSerializerOptionsConfigurator<PostgreSqlGrainStorageOptions>>();
        services.AddGrainStorage(name, (sp, key) => new PostgreSqlGrainStorage(
            key,
            DataSource(sp),
            sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            sp.GetRequiredService<IOptionsMonitor<PostgreSqlGrainStorageOptions>>().Get(key)));
    }

    private static void AddGrainStorage(ISiloBuilder builder, string name)
        => builder.AddAdoNetGrainStorage(name, (OptionsBuilder<AdoNetGrainStorageOptions> options) =>
            options.Configure<IServiceProvider>((o, sp) =>
            {
                o.Invariant = Invariant;
                o.ConnectionString = null;
                o.DataSource = DataSource(sp);
                // Ended sessions that are forgotten leave no row behind.
                o.DeleteStateOnClear = true;
            }));

    private static NpgsqlDataSource DataSource(IServiceProvider services)
        => services.GetRequiredKeyedService<NpgsqlDataSource>(DataSourceServiceKey);

    /// <summary>
    /// The silo's pool: the connection string as given (its <c>Maximum Pool Size</c> is the ceiling; callers beyond it
    /// wait in Npgsql's queue, first come first served, up to its <c>Timeout</c>), with <c>No Reset On Close</c>, since
    /// every statement sent on it is the project's own (Orleans' providers run the queries of
    /// <see cref="PostgreSqlSchema"/>) and none leaves session state behind (planner settings and advisory locks last one
    /// transaction). Saves the reset round trip each group commit would cost when its connection goes back to the pool.
    /// Npgsql logs through the host's logger factory.
    /// </summary>
    internal static NpgsqlDataSource CreateDataSource(string connectionString, ILoggerFactory? loggerFactory)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        builder.UseLoggerFactory(loggerFactory);
        return builder.Build();
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming Storage:ConnectionString (never its password) when it is unusable.</summary>
    internal static string ValidateConnectionString(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException(
                "Storage:ConnectionString must be set to an Npgsql connection string (Host=...;Port=5432;Database=...;Username=...;Password=...) to use PostgreSQL.",
                nameof(connectionString));
        }
        NpgsqlConnectionStringBuilder parsed;
        try
        {
            parsed = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception exception) when (exception is ArgumentException or FormatException or InvalidCastException or OverflowException or KeyNotFoundException)
        {
            throw new ArgumentException($"Storage:ConnectionString is not a valid Npgsql connection string: {PostgreSqlEndpoint.OneLine(exception.Message)}", nameof(connectionString), exception);
        }
        if (string.IsNullOrWhiteSpace(parsed.Host))
        {
            throw new ArgumentException("Storage:ConnectionString has no Host.", nameof(connectionString));
        }
        return connectionString;
    }

    private sealed record PostgreSqlSettings(string ConnectionString);
}
