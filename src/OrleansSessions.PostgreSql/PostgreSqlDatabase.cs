using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// The connection pool and schema shared by the PostgreSQL providers of one silo. Npgsql's pool replaces broken
/// connections by itself, so after a server restart the next operations succeed again without any action here.
/// </summary>
public sealed partial class PostgreSqlDatabase : IAsyncDisposable, IDisposable
{
    private readonly ILogger _logger;
    private readonly Lock _schemaGate = new();
    private Task? _schemaTask;

    /// <summary>Creates the pool; nothing connects until the first operation or <see cref="EnsureSchemaAsync"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid or the connection string cannot be parsed.</exception>
    public PostgreSqlDatabase(PostgreSqlOptions options, ILogger<PostgreSqlDatabase>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;

        var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
        var csb = builder.ConnectionStringBuilder;
        // The providers repeat a handful of statements; let Npgsql prepare them server-side per physical connection.
        if (csb.MaxAutoPrepare == 0)
        {
            csb.MaxAutoPrepare = 32;
        }
        Host = csb.Host ?? "localhost";
        Port = csb.Port;
        DatabaseName = csb.Database ?? csb.Username ?? "postgres";
        DataSource = builder.Build();
    }

    /// <summary>The options the pool was built from.</summary>
    public PostgreSqlOptions Options { get; }

    /// <summary>The pooled data source.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>The server host from the connection string.</summary>
    public string Host { get; }

    /// <summary>The server port from the connection string.</summary>
    public int Port { get; }

    /// <summary>The database name from the connection string.</summary>
    public string DatabaseName { get; }

    /// <summary>
    /// Creates or migrates the schema once per process; safe to call concurrently from any number of silos
    /// (migrations run under a transaction-scoped advisory lock). A failed attempt is retried on the next call.
    /// </summary>
    /// <exception cref="PostgreSqlUnavailableException">The server could not be reached; the message names host, port and database.</exception>
    public Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        var task = Volatile.Read(ref _schemaTask);
        if (task is null || task.IsFaulted || task.IsCanceled)
        {
            lock (_schemaGate)
            {
                task = _schemaTask;
                if (task is null || task.IsFaulted || task.IsCanceled)
                {
                    // The migration is shared by every caller, so no single caller's token may cancel it; connection
                    // attempts are bounded by the connection string's Timeout.
                    task = MigrateAsync(CancellationToken.None);
                    Volatile.Write(ref _schemaTask, task);
                }
            }
        }
        return task.IsCompleted || !cancellationToken.CanBeCanceled ? task : task.WaitAsync(cancellationToken);
    }

    // Only start-up paths translate connection failures; during traffic Npgsql's own exceptions surface unchanged
    // (NpgsqlException.IsTransient tells callers whether a retry makes sense).
    private async ValueTask<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            throw Unavailable(ex);
        }
    }

    private PostgreSqlUnavailableException Unavailable(Exception ex)
        => new(Host, Port, DatabaseName, ex.Message, ex);

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction))
        {
            lockCommand.Parameters.Add(new NpgsqlParameter<long> { TypedValue = PostgreSqlSchema.MigrationLockKey });
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var create = new NpgsqlCommand(PostgreSqlSchema.CreateVersionTable, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        int current;
        await using (var read = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_version", connection, transaction))
        {
            current = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }

        if (current > PostgreSqlSchema.LatestVersion)
        {
            // A newer build migrated this database. Every migration only adds, so an older build keeps working.
            LogNewerSchema(_logger, current, PostgreSqlSchema.LatestVersion);
        }

        foreach (var (version, description, sql) in PostgreSqlSchema.Migrations)
        {
            if (version <= current)
            {
                continue;
            }
            await using (var migrate = new NpgsqlCommand(sql, connection, transaction))
            {
                await migrate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await using (var record = new NpgsqlCommand("INSERT INTO schema_version (version) VALUES ($1)", connection, transaction))
            {
                record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = version });
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            LogMigrated(_logger, version, description, DatabaseName);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => DataSource.DisposeAsync();

    /// <inheritdoc />
    public void Dispose() => DataSource.Dispose();

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Applied PostgreSQL schema migration {Version} ({Description}) to database {Database}")]
    private static partial void LogMigrated(ILogger logger, int version, string description, string database);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "PostgreSQL schema version {Found} is newer than this build's {Known}; continuing")]
    private static partial void LogNewerSchema(ILogger logger, int found, int known);
}
