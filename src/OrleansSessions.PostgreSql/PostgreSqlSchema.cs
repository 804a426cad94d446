namespace OrleansSessions.PostgreSql;

/// <summary>
/// The schema of every PostgreSQL provider, as an ordered list of migrations. Each migration is idempotent DDL
/// (IF NOT EXISTS) so a half-applied step can simply run again; the applied versions are recorded in schema_version.
/// </summary>
internal static class PostgreSqlSchema
{
    /// <summary>The key of the transaction-scoped advisory lock that serialises migrations across silos.</summary>
    public const long MigrationLockKey = 0x4F53_5347_5343_4831; // "OSSGSCH1"

    public const string CreateVersionTable = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version    integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
        """;

    public static readonly IReadOnlyList<(int Version, string Description, string Sql)> Migrations =
    [
        (1, "grain state, membership, reminders", """
            -- One sequence for all row versions: an ETag is never reused, even after a row is deleted and
            -- re-created, so a stale writer can never match a newer incarnation of its row (no ABA).
            CREATE SEQUENCE IF NOT EXISTS etag_seq CACHE 64;

            CREATE TABLE IF NOT EXISTS grain_state (
                state_name   text        NOT NULL,
                interface_id integer     NOT NULL,
                grain_key    text        NOT NULL,
                data         bytea       NOT NULL,
                etag         bigint      NOT NULL,
                updated_at   timestamptz NOT NULL,
                PRIMARY KEY (state_name, interface_id, grain_key)
            );

            CREATE TABLE IF NOT EXISTS membership_version (
                cluster_id text   PRIMARY KEY,
                version    bigint NOT NULL
            );

            CREATE TABLE IF NOT EXISTS membership (
                cluster_id    text        NOT NULL,
                silo          text        NOT NULL,
                host          text        NOT NULL,
                port          integer     NOT NULL,
                generation    bigint      NOT NULL,
                gateway_port  integer     NOT NULL,
                http_port     integer     NOT NULL,
                status        integer     NOT NULL,
                start_time    timestamptz NOT NULL,
                iamalive_time timestamptz NOT NULL,
                suspected_by  text[]      NOT NULL DEFAULT '{}',
                PRIMARY KEY (cluster_id, silo)
            );

            CREATE TABLE IF NOT EXISTS reminders (
                cluster_id    text        NOT NULL,
                interface_id  integer     NOT NULL,
                grain_key     text        NOT NULL,
                grain_hash    bigint      NOT NULL,
                reminder_name text        NOT NULL,
                start_at      timestamptz NOT NULL,
                period_ticks  bigint      NOT NULL,
                etag          bigint      NOT NULL,
                PRIMARY KEY (cluster_id, interface_id, grain_key, reminder_name)
            );

            CREATE INDEX IF NOT EXISTS reminders_ring_idx ON reminders (cluster_id, grain_hash);
            """),
        (2, "session deadline index", """
            CREATE TABLE IF NOT EXISTS session_deadlines (
                cluster_id text        NOT NULL,
                session_id text        NOT NULL,
                user_id    text        NOT NULL,
                partition  integer     NOT NULL,
                deadline   timestamptz NOT NULL,
                PRIMARY KEY (cluster_id, session_id)
            );

            -- The janitor reads one partition's due rows in (deadline, session_id) order.
            CREATE INDEX IF NOT EXISTS session_deadlines_due_idx
                ON session_deadlines (cluster_id, partition, deadline, session_id);
            """),
    ];

    /// <summary>The newest schema version this build knows.</summary>
    public static int LatestVersion => Migrations[^1].Version;
}
