using Npgsql;
using OrleansSessions.Runtime.Membership;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// The membership table of one cluster in PostgreSQL. Every membership change is a compare-and-swap on
/// membership_version in the same transaction as the row upsert, so two silos that read the same version cannot
/// both write. Heartbeats (<see cref="UpdateIAmAliveAsync"/>) do not change the version.
/// </summary>
/// <remarks>Times are stored as timestamptz, i.e. with microsecond precision (sub-microsecond ticks are truncated).</remarks>
public sealed class PostgreSqlMembershipTable : IMembershipTable
{
    private const string InitializeSql =
        "INSERT INTO membership_version (cluster_id, version) VALUES ($1, 0) ON CONFLICT (cluster_id) DO NOTHING";

    // One statement, hence one snapshot: the rows and the version always belong together.
    private const string ReadAllSql = """
        SELECT v.version, m.silo, m.host, m.port, m.generation, m.gateway_port, m.http_port, m.status,
               m.start_time, m.iamalive_time, m.suspected_by
          FROM membership_version AS v
          LEFT JOIN membership AS m ON m.cluster_id = v.cluster_id
         WHERE v.cluster_id = $1
        """;

    // A cluster whose version row was never created (InitializeAsync not called) is at version 0.
    private const string CreateVersionSql =
        "INSERT INTO membership_version (cluster_id, version) VALUES ($1, 1) ON CONFLICT (cluster_id) DO NOTHING";

    private const string BumpVersionSql =
        "UPDATE membership_version SET version = version + 1 WHERE cluster_id = $1 AND version = $2";

    private const string UpsertSql = """
        INSERT INTO membership (cluster_id, silo, host, port, generation, gateway_port, http_port, status,
                                start_time, iamalive_time, suspected_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (cluster_id, silo) DO UPDATE
           SET host = EXCLUDED.host, port = EXCLUDED.port, generation = EXCLUDED.generation,
               gateway_port = EXCLUDED.gateway_port, http_port = EXCLUDED.http_port, status = EXCLUDED.status,
               start_time = EXCLUDED.start_time, iamalive_time = EXCLUDED.iamalive_time,
               suspected_by = EXCLUDED.suspected_by
        """;

    private const string IAmAliveSql =
        "UPDATE membership SET iamalive_time = $3 WHERE cluster_id = $1 AND silo = $2";

    private const string CleanupSql =
        "DELETE FROM membership WHERE cluster_id = $1 AND status = $2 AND iamalive_time < $3";

    private readonly PostgreSqlDatabase _database;
    private readonly string _clusterId;

    /// <summary>Creates the table provider for the cluster named in the database options.</summary>
    public PostgreSqlMembershipTable(PostgreSqlDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _clusterId = database.Options.ClusterId;
    }

    /// <inheritdoc />
    /// <exception cref="PostgreSqlUnavailableException">The server could not be reached; the message names host, port and database.</exception>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(InitializeSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<MembershipTableSnapshot> ReadAllAsync(CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(ReadAllSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        long version = 0;
        var entries = new List<MembershipEntry>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            version = reader.GetInt64(0);
            if (reader.IsDBNull(1))
            {
                continue; // the version row of a cluster without members
            }
            entries.Add(new MembershipEntry
            {
                Silo = new SiloAddress(reader.GetString(2), reader.GetInt32(3), reader.GetInt64(4)),
                GatewayPort = reader.GetInt32(5),
                HttpPort = reader.GetInt32(6),
                Status = (SiloStatus)reader.GetInt32(7),
                StartTime = reader.GetFieldValue<DateTimeOffset>(8),
                IAmAliveTime = reader.GetFieldValue<DateTimeOffset>(9),
                SuspectedBy = reader.GetFieldValue<string[]>(10),
            });
        }
        return new MembershipTableSnapshot(entries, version);
    }

    /// <inheritdoc />
    public async Task<bool> TryUpsertAsync(MembershipEntry entry, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await _database.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        await using (var bump = new NpgsqlCommand(BumpVersionSql, connection, transaction))
        {
            bump.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
            bump.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expectedVersion });
            // Under READ COMMITTED a concurrent bumper holds the row lock; after it commits the WHERE is re-checked
            // against the new version and matches nothing, so exactly one of two racing writers wins.
            if (await bump.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0
                && (expectedVersion != 0 || !await TryCreateVersionAsync(connection, transaction, cancellationToken).ConfigureAwait(false)))
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return false;
            }
        }

        await using (var upsert = new NpgsqlCommand(UpsertSql, connection, transaction))
        {
            var silo = entry.Silo;
            upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
            upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = silo.ToString() });
            upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = silo.Host });
            upsert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = silo.Port });
            upsert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = silo.Generation });
            upsert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = entry.GatewayPort });
            upsert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = entry.HttpPort });
            upsert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)entry.Status });
            upsert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = entry.StartTime.ToUniversalTime() });
            upsert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = entry.IAmAliveTime.ToUniversalTime() });
            upsert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. entry.SuspectedBy] });
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task<bool> TryCreateVersionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var create = new NpgsqlCommand(CreateVersionSql, connection, transaction);
        create.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
        return await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task UpdateIAmAliveAsync(SiloAddress silo, DateTimeOffset iAmAliveTime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(silo);
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(IAmAliveSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = silo.ToString() });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = iAmAliveTime.ToUniversalTime() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task CleanupDefunctEntriesAsync(DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(CleanupSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)SiloStatus.Dead });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = olderThan.ToUniversalTime() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
