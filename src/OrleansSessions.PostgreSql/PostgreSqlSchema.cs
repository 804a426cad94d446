using Npgsql;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// The project's PostgreSQL schema: the <c>OrleansQuery</c> table with every query Orleans' ADO.NET clustering,
/// grain storage and reminder providers load, their tables, the state table of <see cref="PostgreSqlGrainStorage"/>
/// and the tables of the session deadline index and the session event log. The script is
/// embedded in this assembly and idempotent; <see cref="ApplyAsync"/> runs it in one transaction under a
/// transaction-level advisory lock, so any number of silos may apply it at once, and again at every start.
/// </summary>
public static class PostgreSqlSchema
{
    /// <summary>The key of the transaction-level advisory lock (<c>pg_advisory_xact_lock</c>) that serialises schema runs.</summary>
    public const long AdvisoryLockKey = 0x4F53_5347_5343_4832; // "OSSGSCH2"

    /// <summary>The table of <see cref="PostgreSqlGrainStorage"/> (session and user state).</summary>
    public const string StateTable = "orleanssessions_state";

    /// <summary>The table of the session deadline index.</summary>
    public const string DeadlinesTable = "orleanssessions_deadlines";

    /// <summary>The table of the session event log: one row per event.</summary>
    public const string EventsTable = "orleanssessions_events";

    /// <summary>The table of the session event log's partitions: the newest and the last trimmed position of each.</summary>
    public const string EventHeadsTable = "orleanssessions_event_heads";

    /// <summary>The query keys Orleans' ADO.NET clustering provider requires (it fails at start when one is missing).</summary>
    public static IReadOnlyList<string> ClusteringQueryKeys { get; } =
    [
        "InsertMembershipVersionKey", "MembershipReadAllKey", "MembershipReadRowKey", "InsertMembershipKey",
        "UpdateMembershipKey", "UpdateIAmAlivetimeKey", "GatewaysQueryKey", "DeleteMembershipTableEntriesKey",
        "CleanupDefunctSiloEntriesKey",
    ];

    /// <summary>The optional clustering key the provider uses when present: deletes one Dead row only if unchanged.</summary>
    public const string CleanupDefunctSiloEntryKey = "CleanupDefunctSiloEntryKey";

    /// <summary>The query keys of Orleans' ADO.NET grain storage (DeleteStorageKey is needed for DeleteStateOnClear).</summary>
    public static IReadOnlyList<string> PersistenceQueryKeys { get; } =
        ["ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey", "DeleteStorageKey"];

    /// <summary>The query keys Orleans' ADO.NET reminder table requires.</summary>
    public static IReadOnlyList<string> RemindersQueryKeys { get; } =
    [
        "ReadReminderRowsKey", "ReadReminderRowKey", "ReadRangeRows1Key", "ReadRangeRows2Key",
        "UpsertReminderRowKey", "DeleteReminderRowKey", "DeleteReminderRowsKey",
    ];

    private static readonly Lazy<string> ScriptText = new(LoadScript);

    /// <summary>The schema script (PostgreSQL), as embedded in this assembly.</summary>
    public static string Script => ScriptText.Value;

    /// <summary>
    /// Creates or completes the schema in the database (and search path) of <paramref name="dataSource"/>.
    /// Safe to run any number of times, concurrently from any number of processes.
    /// </summary>
    /// <exception cref="PostgreSqlUnavailableException">The server could not be reached or refused the connection.</exception>
    /// <exception cref="InvalidOperationException">The server was reached but the script failed (for example, missing privileges).</exception>
    public static async Task ApplyAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var endpoint = PostgreSqlEndpoint.From(dataSource.ConnectionString);
        NpgsqlConnection connection;
        try
        {
            connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
        {
            throw PostgreSqlUnavailableException.For(endpoint, exception);
        }

        await using (connection.ConfigureAwait(false))
        {
            try
            {
                var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await using (transaction.ConfigureAwait(false))
                {
                    await using (var @lock = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
                    {
                        @lock.Parameters.Add(new NpgsqlParameter<long>("key", AdvisoryLockKey));
                        await @lock.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    await using (var script = new NpgsqlCommand(Script, connection, transaction))
                    {
                        await script.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (PostgresException exception)
            {
                throw new InvalidOperationException(
                    $"Applying the OrleansSessions schema to PostgreSQL at {endpoint} failed: {PostgreSqlEndpoint.OneLine(exception.Message)}", exception);
            }
            catch (NpgsqlException exception)
            {
                // The connection broke during the script.
                throw PostgreSqlUnavailableException.For(endpoint, exception);
            }
        }
    }

    private static string LoadScript()
    {
        using var stream = typeof(PostgreSqlSchema).Assembly.GetManifestResourceStream("OrleansSessions.PostgreSql.sql")
            ?? throw new InvalidOperationException("The embedded resource OrleansSessions.PostgreSql.sql is missing from " + typeof(PostgreSqlSchema).Assembly.GetName().Name + ".");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
