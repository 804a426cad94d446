using System.Globalization;
using Npgsql;
using OrleansSessions.Runtime.Reminders;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// Durable reminders of one cluster in PostgreSQL, indexed by the grain's position on the hash ring so that each
/// silo reads exactly the reminders of the ring range it owns.
/// </summary>
/// <remarks>
/// grain_hash holds <see cref="GrainId.PlacementHash"/> as an unsigned value in a bigint. ETags come from a
/// database sequence and are never reused, so a stale ETag cannot delete a re-registered reminder.
/// Start times are stored with microsecond precision.
/// </remarks>
public sealed class PostgreSqlReminderTable : IReminderTable
{
    private const string Columns = "interface_id, grain_key, reminder_name, start_at, period_ticks, etag";

    private const string ReadInsideSql =
        "SELECT " + Columns + " FROM reminders WHERE cluster_id = $1 AND grain_hash > $2 AND grain_hash <= $3";

    private const string ReadWrappedSql =
        "SELECT " + Columns + " FROM reminders WHERE cluster_id = $1 AND (grain_hash > $2 OR grain_hash <= $3)";

    private const string ReadRowsSql =
        "SELECT " + Columns + " FROM reminders WHERE cluster_id = $1 AND interface_id = $2 AND grain_key = $3";

    private const string ReadRowSql =
        "SELECT " + Columns + " FROM reminders WHERE cluster_id = $1 AND interface_id = $2 AND grain_key = $3 AND reminder_name = $4";

    private const string UpsertSql = """
        INSERT INTO reminders (cluster_id, interface_id, grain_key, grain_hash, reminder_name, start_at, period_ticks, etag)
        VALUES ($1, $2, $3, $4, $5, $6, $7, nextval('etag_seq'))
        ON CONFLICT (cluster_id, interface_id, grain_key, reminder_name) DO UPDATE
           SET start_at = EXCLUDED.start_at, period_ticks = EXCLUDED.period_ticks, etag = EXCLUDED.etag
        RETURNING etag
        """;

    private const string DeleteSql =
        "DELETE FROM reminders WHERE cluster_id = $1 AND interface_id = $2 AND grain_key = $3 AND reminder_name = $4 AND etag = $5";

    private readonly PostgreSqlDatabase _database;
    private readonly string _clusterId;

    /// <summary>Creates the table provider for the cluster named in the database options.</summary>
    public PostgreSqlReminderTable(PostgreSqlDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _clusterId = database.Options.ClusterId;
    }

    /// <inheritdoc />
    /// <exception cref="PostgreSqlUnavailableException">The server could not be reached; the message names host, port and database.</exception>
    public Task InitializeAsync(CancellationToken cancellationToken) => _database.EnsureSchemaAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyList<ReminderEntry>> ReadRangeAsync(uint beginExclusive, uint endInclusive, CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        // begin < end: the plain interval. begin >= end: the range wraps past uint.MaxValue to 0; with begin == end
        // the two halves (begin, max] and [0, begin] cover the whole ring.
        await using var command = _database.DataSource.CreateCommand(beginExclusive < endInclusive ? ReadInsideSql : ReadWrappedSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = beginExclusive });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = endInclusive });
        return await ReadEntriesAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ReminderEntry>> ReadRowsAsync(GrainId grainId, CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(ReadRowsSql);
        AddGrain(command, grainId);
        return await ReadEntriesAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<ReminderEntry?> ReadRowAsync(GrainId grainId, string reminderName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reminderName);
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(ReadRowSql);
        AddGrain(command, grainId);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reminderName });
        var rows = await ReadEntriesAsync(command, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc />
    public async Task<string> UpsertRowAsync(ReminderEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(UpsertSql);
        AddGrain(command, entry.GrainId);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = entry.GrainId.PlacementHash });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.ReminderName });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = entry.StartAt.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = entry.Period.Ticks });
        var etag = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        return etag.ToString(CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public async Task<bool> RemoveRowAsync(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reminderName);
        if (!long.TryParse(eTag, NumberStyles.None, CultureInfo.InvariantCulture, out var expected))
        {
            return false; // not an ETag this table issued, so it matches no row
        }
        await _database.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _database.DataSource.CreateCommand(DeleteSql);
        AddGrain(command, grainId);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reminderName });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expected });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    private void AddGrain(NpgsqlCommand command, GrainId grainId)
    {
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _clusterId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = grainId.InterfaceId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = grainId.Key });
    }

    private static async Task<IReadOnlyList<ReminderEntry>> ReadEntriesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var entries = new List<ReminderEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(new ReminderEntry
            {
                GrainId = new GrainId(reader.GetInt32(0), reader.GetString(1)),
                ReminderName = reader.GetString(2),
                StartAt = reader.GetFieldValue<DateTimeOffset>(3),
                Period = TimeSpan.FromTicks(reader.GetInt64(4)),
                ETag = reader.GetInt64(5).ToString(CultureInfo.InvariantCulture),
            });
        }
        return entries;
    }
}
