using Npgsql;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// The statements of the group commits (<see cref="PostgreSqlStateExecutor"/>, <see cref="PostgreSqlDeadlineExecutor"/>,
/// <see cref="PostgreSqlEventLogExecutor"/>):
/// each reads its whole group from array parameters ($1 the ServiceId), so a group of any size is one statement per
/// kind of operation, parsed once per physical connection.
/// </summary>
internal static class PostgreSqlStatements
{
    // Every statement reaches the table only through one primary-key probe per operation (a LATERAL subquery that
    // OFFSET 0 keeps from being flattened into a join, so the group's arrays are always the outer side) and, for
    // updates and deletes, through the probed row's ctid. Written as plain joins, the statements were planned from the
    // table's statistics, and a plan cached while the table was small (the generic plan of a prepared statement, kept
    // for the connection's life) joined the group by hash against a scan of every row of the ServiceId, or looped over
    // one: each group then cost as much as the whole table (13 ms per group of 16 writes on 46,000 rows, against
    // 1.7 ms; up to 300 ms per group of reads). Sequential and bitmap scans are off for the group's transaction
    // (set_config(..., true)), so even a probe planned on an empty table stays an index scan.
    internal const string PlannerSql = """
        SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)
        """;

    // Each statement reads its group from arrays (ord = index in the group) and returns (ord, version, payload) for the
    // rows it matched.
    internal const string WriteSql = $"""
        WITH input AS (
            SELECT * FROM unnest($2::integer[], $3::text[], $4::text[], $5::bytea[], $6::integer[]) AS t(ord, state_name, grain_id, payload, version)
        ),
        located AS (
            SELECT i.ord, i.payload, i.version, x.tid
              FROM input i
             CROSS JOIN LATERAL (
                SELECT p.ctid AS tid FROM {PostgreSqlSchema.StateTable} p
                 WHERE p.service_id = $1 AND p.state_name = i.state_name AND p.grain_id = i.grain_id AND p.version = i.version
                OFFSET 0) x
             WHERE i.version IS NOT NULL
        ),
        updated AS (
            UPDATE {PostgreSqlSchema.StateTable} s
               SET payload = l.payload, version = s.version + 1, modified_on = now()
              FROM located l
             WHERE s.ctid = l.tid AND s.version = l.version
            RETURNING l.ord, s.version
        ),
        inserted AS (
            INSERT INTO {PostgreSqlSchema.StateTable} (service_id, state_name, grain_id, payload, version, modified_on)
            SELECT $1, i.state_name, i.grain_id, i.payload, 1, now() FROM input i WHERE i.version IS NULL
            ON CONFLICT DO NOTHING
            RETURNING state_name, grain_id, version
        )
        SELECT ord, version, NULL::bytea FROM updated
        UNION ALL
        SELECT i.ord, n.version, NULL::bytea
          FROM inserted n JOIN input i ON i.version IS NULL AND i.state_name = n.state_name AND i.grain_id = n.grain_id
        """;

    internal const string DeleteSql = $"""
        DELETE FROM {PostgreSqlSchema.StateTable} s
         USING (SELECT i.ord, i.version, x.tid
                  FROM unnest($2::integer[], $3::text[], $4::text[], $5::integer[]) AS i(ord, state_name, grain_id, version)
                 CROSS JOIN LATERAL (
                    SELECT p.ctid AS tid FROM {PostgreSqlSchema.StateTable} p
                     WHERE p.service_id = $1 AND p.state_name = i.state_name AND p.grain_id = i.grain_id AND p.version = i.version
                    OFFSET 0) x) l
         WHERE s.ctid = l.tid AND s.version = l.version
        RETURNING l.ord, s.version, NULL::bytea
        """;

    internal const string ReadSql = $"""
        SELECT i.ord, x.version, x.payload
          FROM unnest($2::integer[], $3::text[], $4::text[]) AS i(ord, state_name, grain_id)
         CROSS JOIN LATERAL (
            SELECT p.version, p.payload FROM {PostgreSqlSchema.StateTable} p
             WHERE p.service_id = $1 AND p.state_name = i.state_name AND p.grain_id = i.grain_id
            OFFSET 0) x
        """;

    // The session deadline index's upserts and removes, each group in one transaction as the state rows'.
    internal const string UpsertDeadlinesSql = $"""
        INSERT INTO {PostgreSqlSchema.DeadlinesTable} (service_id, session_id, user_id, partition, deadline)
        SELECT $1, d.session_id, d.user_id, d.partition, d.deadline
          FROM unnest($2::text[], $3::text[], $4::integer[], $5::timestamptz[]) AS d(session_id, user_id, partition, deadline)
        ON CONFLICT (service_id, session_id) DO UPDATE
           SET user_id = EXCLUDED.user_id, partition = EXCLUDED.partition, deadline = EXCLUDED.deadline
        """;

    internal const string RemoveDeadlinesSql = $"""
        DELETE FROM {PostgreSqlSchema.DeadlinesTable} d
         USING (SELECT x.tid
                  FROM unnest($2::text[]) AS r(session_id)
                 CROSS JOIN LATERAL (
                    SELECT p.ctid AS tid FROM {PostgreSqlSchema.DeadlinesTable} p
                     WHERE p.service_id = $1 AND p.session_id = r.session_id
                    OFFSET 0) x) l
         WHERE d.ctid = l.tid
        """;

    // The event log's appends of one group, in one transaction: events already recorded (same session and sequence
    // number) answer with their position; the others raise their partition's head by their number and take the
    // positions below it, in the group's order. The heads rows are locked in partition order, so two groups in
    // flight wait for each other rather than deadlock; a partition's head stays locked until the commit, so its
    // positions commit in order. Returns (ord, position) for every operation.
    internal const string AppendEventsSql = $"""
        WITH input AS (
            SELECT * FROM unnest($2::integer[], $3::integer[], $4::text[], $5::bigint[], $6::timestamptz[], $7::bytea[])
                AS t(ord, partition, session_id, sequence, at, payload)
        ),
        recorded AS (
            SELECT i.ord, x.position
              FROM input i
             CROSS JOIN LATERAL (
                SELECT e.position FROM {PostgreSqlSchema.EventsTable} e
                 WHERE e.service_id = $1 AND e.session_id = i.session_id AND e.sequence = i.sequence
                OFFSET 0) x
        ),
        fresh AS (
            SELECT i.*, row_number() OVER (PARTITION BY i.partition ORDER BY i.ord) AS n, count(*) OVER (PARTITION BY i.partition) AS k
              FROM input i
             WHERE NOT EXISTS (SELECT 1 FROM recorded r WHERE r.ord = i.ord)
        ),
        raised AS (
            INSERT INTO {PostgreSqlSchema.EventHeadsTable} AS h (service_id, partition, head)
            SELECT $1, f.partition, count(*) FROM fresh f GROUP BY f.partition ORDER BY f.partition
            ON CONFLICT (service_id, partition) DO UPDATE SET head = h.head + EXCLUDED.head
            RETURNING h.partition, h.head
        ),
        positioned AS (
            SELECT f.ord, f.partition, r.head - f.k + f.n AS position, f.session_id, f.sequence, f.at, f.payload
              FROM fresh f JOIN raised r ON r.partition = f.partition
        ),
        inserted AS (
            INSERT INTO {PostgreSqlSchema.EventsTable} (service_id, partition, position, session_id, sequence, at, payload)
            SELECT $1, p.partition, p.position, p.session_id, p.sequence, p.at, p.payload FROM positioned p
        )
        SELECT ord, position FROM recorded
        UNION ALL
        SELECT ord, position FROM positioned
        """;

    /// <summary>A batch on <paramref name="connection"/> that starts with <see cref="PlannerSql"/>.</summary>
    public static NpgsqlBatch NewGroupBatch(NpgsqlConnection connection)
    {
        var batch = connection.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(PlannerSql));
        return batch;
    }
}
