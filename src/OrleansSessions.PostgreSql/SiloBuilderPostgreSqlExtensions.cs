using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using OrleansSessions.Grains.Storage;
using OrleansSessions.PostgreSql;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Reminders;
using OrleansSessions.Storage;

namespace OrleansSessions.Hosting;

/// <summary>Registers the PostgreSQL providers on a silo.</summary>
public static class SiloBuilderPostgreSqlExtensions
{
    /// <summary>
    /// Uses PostgreSQL for grain storage (<see cref="IGrainStorage"/>), membership (<see cref="IMembershipTable"/>),
    /// reminders (<see cref="IReminderTable"/>) and the session deadline index (<see cref="ISessionDeadlineIndex"/>),
    /// all over one connection pool (<see cref="PostgreSqlDatabase"/>).
    /// </summary>
    /// <remarks>
    /// Any registration of those services made before this call is removed, and the runtime and AddSessionGrains add
    /// their in-memory defaults with TryAdd, which does nothing once a provider is registered; so PostgreSQL wins
    /// whether this is called before or after them. A later plain Add of one of those services would still win
    /// (last registration resolves), which is the usual .NET rule for an explicit override.
    /// The schema is created or migrated when the runtime initializes the membership or reminder table.
    /// </remarks>
    /// <exception cref="ArgumentException">The connection string or cluster id is empty.</exception>
    public static ISiloBuilder UsePostgreSql(this ISiloBuilder builder, string connectionString, string clusterId)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UsePostgreSql(options =>
        {
            options.ConnectionString = connectionString;
            options.ClusterId = clusterId;
        });
    }

    /// <summary>
    /// Uses PostgreSQL with the connection string from <c>Storage:ConnectionString</c> and the cluster id from
    /// <c>Cluster:ClusterId</c> (default "dev") of the silo configuration; see <see cref="UsePostgreSql(ISiloBuilder, string, string)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Storage:ConnectionString is missing or empty.</exception>
    public static ISiloBuilder UsePostgreSql(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        return builder.UsePostgreSql(
            configuration["Storage:ConnectionString"] ?? "",
            configuration["Cluster:ClusterId"] is { Length: > 0 } clusterId ? clusterId : "dev");
    }

    /// <summary>Uses PostgreSQL with options set by <paramref name="configure"/>; see <see cref="UsePostgreSql(ISiloBuilder, string, string)"/>.</summary>
    /// <exception cref="ArgumentException">The configured options are invalid.</exception>
    public static ISiloBuilder UsePostgreSql(this ISiloBuilder builder, Action<PostgreSqlOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new PostgreSqlOptions();
        configure(options);
        options.Validate(); // fail at configuration time, naming the key

        var services = builder.Services;
        services.RemoveAll<PostgreSqlOptions>();
        services.RemoveAll<PostgreSqlDatabase>();
        services.AddSingleton(options);
        services.AddSingleton(sp => new PostgreSqlDatabase(options, sp.GetService<ILogger<PostgreSqlDatabase>>()));

        Replace<PostgreSqlGrainStorage, IGrainStorage>(services, sp => new PostgreSqlGrainStorage(sp.GetRequiredService<PostgreSqlDatabase>()));
        Replace<PostgreSqlMembershipTable, IMembershipTable>(services, sp => new PostgreSqlMembershipTable(sp.GetRequiredService<PostgreSqlDatabase>()));
        Replace<PostgreSqlReminderTable, IReminderTable>(services, sp => new PostgreSqlReminderTable(sp.GetRequiredService<PostgreSqlDatabase>()));
        Replace<PostgreSqlSessionDeadlineIndex, ISessionDeadlineIndex>(services, sp => new PostgreSqlSessionDeadlineIndex(sp.GetRequiredService<PostgreSqlDatabase>()));
        return builder;
    }

    private static void Replace<TImplementation, TService>(IServiceCollection services, Func<IServiceProvider, TImplementation> factory)
        where TImplementation : class, TService
        where TService : class
    {
        services.RemoveAll<TImplementation>();
        services.RemoveAll<TService>();
        services.AddSingleton(factory);
        services.AddSingleton<TService>(sp => sp.GetRequiredService<TImplementation>());
    }
}
