using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansSessions.Hosting;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// Applies <see cref="PostgreSqlSchema"/> at the silo's first lifecycle stage, before Orleans' ADO.NET providers
/// initialize (they load OrleansQuery at <c>RuntimeInitialize</c> and later). A failure stops the silo's start with
/// the exception of <see cref="PostgreSqlSchema.ApplyAsync"/>.
/// </summary>
internal sealed partial class PostgreSqlSchemaStartup(IServiceProvider services, ILogger<PostgreSqlSchemaStartup> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle)
        => lifecycle.Subscribe(nameof(PostgreSqlSchemaStartup), ServiceLifecycleStage.First, ApplyAsync);

    private async Task ApplyAsync(CancellationToken cancellationToken)
    {
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(SiloBuilderPostgreSqlExtensions.DataSourceServiceKey);
        var endpoint = PostgreSqlEndpoint.From(dataSource.ConnectionString);
        var started = Stopwatch.GetTimestamp();
        await PostgreSqlSchema.ApplyAsync(dataSource, cancellationToken).ConfigureAwait(false);
        LogApplied(logger, endpoint.ToString(), endpoint.Database, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Applied the OrleansSessions schema to PostgreSQL at {Endpoint}, database {Database}, in {ElapsedMs:F0} ms")]
    private static partial void LogApplied(ILogger logger, string endpoint, string database, double elapsedMs);
}
