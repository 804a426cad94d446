-- OrleansSessions on PostgreSQL: the tables and stored queries that Orleans' ADO.NET providers
-- (Microsoft.Orleans.Clustering.AdoNet, .Persistence.AdoNet, .Reminders.AdoNet, invariant "Npgsql") read and
-- write, the grain storage of session and user state, and the session deadline index and event log of OrleansSessions.
--
-- Written by the project to the providers' query contract: the providers load every query text from OrleansQuery
-- at start, bind parameters by name (@Name) and read result columns by name (unquoted identifiers below, so
-- PostgreSQL folds them to lower case and the providers' case-insensitive lookup finds them).
--
-- The whole script is idempotent: CREATE TABLE IF NOT EXISTS, indexes created when missing, and query texts
-- upserted by key. The silo runs it at start in one transaction under a transaction-level advisory lock
-- (PostgreSqlSchema.ApplyAsync), so any number of silos may start at once. All times are timestamptz: the
-- providers send UTC DateTime values.

-- ---------------------------------------------------------------------------------------------------------------
-- The stored queries.
CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64)   NOT NULL,
    QueryText varchar(8000) NOT NULL,
    CONSTRAINT PK_OrleansQuery PRIMARY KEY (QueryKey)
);

-- ---------------------------------------------------------------------------------------------------------------
-- Clustering. DeploymentId is the ClusterId. One version row per cluster: every membership change bumps it
-- with an optimistic check (Version = @Version), in the same statement as the change.
CREATE TABLE IF NOT EXISTS OrleansMembershipVersionTable
(
    DeploymentId varchar(150) NOT NULL,
    Timestamp    timestamptz  NOT NULL DEFAULT now(),
    Version      integer      NOT NULL DEFAULT 0,
    CONSTRAINT PK_OrleansMembershipVersionTable PRIMARY KEY (DeploymentId)
);

-- One row per silo incarnation. Status: 1 Created, 2 Joining, 3 Active, 4 ShuttingDown, 5 Stopping, 6 Dead.
CREATE TABLE IF NOT EXISTS OrleansMembershipTable
(
    DeploymentId varchar(150)  NOT NULL,
    Address      varchar(45)   NOT NULL,
    Port         integer       NOT NULL,
    Generation   integer       NOT NULL,
    SiloName     varchar(150)  NOT NULL,
    HostName     varchar(150)  NOT NULL,
    Status       integer       NOT NULL,
    ProxyPort    integer       NOT NULL DEFAULT 0,
    SuspectTimes varchar(8000) NULL,
    StartTime    timestamptz   NOT NULL,
    IAmAliveTime timestamptz   NOT NULL,
    CONSTRAINT PK_OrleansMembershipTable PRIMARY KEY (DeploymentId, Address, Port, Generation)
);

-- ---------------------------------------------------------------------------------------------------------------
-- Grain storage. The row key is (ServiceId, grain id as N0/N1/extension string, GrainTypeString = the state name);
-- the hashes narrow the index lookup. Version is the ETag: NULL never, 1 on insert, +1 on every write or clear.
CREATE TABLE IF NOT EXISTS OrleansStorage
(
    GrainIdHash            integer      NOT NULL,
    GrainIdN0              bigint       NOT NULL,
    GrainIdN1              bigint       NOT NULL,
    GrainTypeHash          integer      NOT NULL,
    GrainTypeString        varchar(512) NOT NULL,
    GrainIdExtensionString varchar(512) NULL,
    ServiceId              varchar(150) NOT NULL,
    PayloadBinary          bytea        NULL,
    ModifiedOn             timestamptz  NOT NULL DEFAULT now(),
    Version                integer      NOT NULL
);

-- At most one row per key: a NULL extension string and an empty one are told apart by the last column.
-- (Indexes are created only when missing: CREATE INDEX IF NOT EXISTS would still lock the table against writes
-- of running silos for the length of this transaction.)
DO $do$
BEGIN
    IF to_regclass('ux_orleansstorage_key') IS NULL THEN
        CREATE UNIQUE INDEX ux_orleansstorage_key ON OrleansStorage
        (
            ServiceId, GrainIdHash, GrainTypeHash, GrainIdN0, GrainIdN1, GrainTypeString,
            (COALESCE(GrainIdExtensionString, '')), (GrainIdExtensionString IS NULL)
        );
    END IF;
END
$do$;

-- ---------------------------------------------------------------------------------------------------------------
-- Reminders. GrainHash is GrainId.GetUniformHashCode() cast to int: the ring range queries read by it.
CREATE TABLE IF NOT EXISTS OrleansRemindersTable
(
    ServiceId    varchar(150) NOT NULL,
    GrainId      varchar(512) NOT NULL,
    ReminderName varchar(150) NOT NULL,
    StartTime    timestamptz  NOT NULL,
    Period       bigint       NOT NULL,
    GrainHash    integer      NOT NULL,
    Version      integer      NOT NULL,
    CONSTRAINT PK_OrleansRemindersTable PRIMARY KEY (ServiceId, GrainId, ReminderName)
);

DO $do$
BEGIN
    IF to_regclass('ix_orleansreminderstable_grainhash') IS NULL THEN
        CREATE INDEX ix_orleansreminderstable_grainhash ON OrleansRemindersTable (ServiceId, GrainHash);
    END IF;
END
$do$;

-- ---------------------------------------------------------------------------------------------------------------
-- The session deadline index (ISessionDeadlineIndex): one row per live session, scoped by the Orleans ServiceId
-- like grain state. Deadlines are microseconds (timestamptz); finer values are truncated to earlier instants.
CREATE TABLE IF NOT EXISTS orleanssessions_deadlines
(
    service_id varchar(150) NOT NULL,
    session_id text         NOT NULL,
    user_id    text         NOT NULL,
    partition  integer      NOT NULL,
    deadline   timestamptz  NOT NULL,
    CONSTRAINT pk_orleanssessions_deadlines PRIMARY KEY (service_id, session_id)
);

-- The janitor of one partition reads its due rows in (deadline, session_id) order.
DO $do$
BEGIN
    IF to_regclass('ix_orleanssessions_deadlines_due') IS NULL THEN
        CREATE INDEX ix_orleanssessions_deadlines_due ON orleanssessions_deadlines (service_id, partition, deadline, session_id);
    END IF;
END
$do$;

-- ---------------------------------------------------------------------------------------------------------------
-- The grain storage of session and user state (PostgreSqlGrainStorage, storage name "OrleansSessions"): one row per
-- grain state, keyed by ServiceId, state name and GrainId (its string form "type/key"). version is the ETag: 1 on
-- insert, +1 on every write; a clear deletes the row. Writes arrive in groups (one multi-row statement per group, one
-- commit); fillfactor leaves room on each page so that a rewrite of a row stays on its page (HOT: no index write).
CREATE TABLE IF NOT EXISTS orleanssessions_state
(
    service_id  varchar(150) NOT NULL,
    state_name  varchar(512) NOT NULL,
    grain_id    text         NOT NULL,
    payload     bytea        NOT NULL,
    version     integer      NOT NULL,
    modified_on timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pk_orleanssessions_state PRIMARY KEY (service_id, state_name, grain_id)
) WITH (fillfactor = 80);

-- ---------------------------------------------------------------------------------------------------------------
-- The session event log (ISessionEventLog), scoped by ServiceId and split into the janitor's partitions. One heads row
-- per partition: head is the newest position given out, trimmed_through the last one retention removed. An append
-- raises head and inserts its events in the same transaction, so the head row's lock orders the partition's writers:
-- positions are consecutive and commit in position order, and writers of other partitions never wait on them.
-- Rewritten on every append, it leaves room on its page for the new version (fillfactor).
CREATE TABLE IF NOT EXISTS orleanssessions_event_heads
(
    service_id      varchar(150) NOT NULL,
    partition       integer      NOT NULL,
    head            bigint       NOT NULL,
    trimmed_through bigint       NOT NULL DEFAULT 0,
    CONSTRAINT pk_orleanssessions_event_heads PRIMARY KEY (service_id, partition)
) WITH (fillfactor = 50);

-- One row per event: payload is the SessionEvent in Orleans' binary serialization; session_id, sequence and at are
-- the event's own, kept as columns for the unique key (an event is recorded once per session and sequence number)
-- and for retention (trimmed by at, oldest position first). at keeps microseconds, truncated toward earlier instants.
CREATE TABLE IF NOT EXISTS orleanssessions_events
(
    service_id varchar(150) NOT NULL,
    partition  integer      NOT NULL,
    position   bigint       NOT NULL,
    session_id text         NOT NULL,
    sequence   bigint       NOT NULL,
    at         timestamptz  NOT NULL,
    payload    bytea        NOT NULL,
    CONSTRAINT pk_orleanssessions_events PRIMARY KEY (service_id, partition, position),
    CONSTRAINT ux_orleanssessions_events_session UNIQUE (service_id, session_id, sequence)
);

-- ---------------------------------------------------------------------------------------------------------------
-- The query texts. Re-running the script replaces texts that changed, so a new build's queries take effect at the
-- next silo start.
INSERT INTO OrleansQuery (QueryKey, QueryText)
VALUES

-- Clustering --------------------------------------------------------------------------------------------------

-- 1 when the version row was created, 0 when it existed.
('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO OrleansMembershipVersionTable (DeploymentId)
    VALUES (@DeploymentId)
    ON CONFLICT (DeploymentId) DO NOTHING
    RETURNING 1
)
SELECT count(*)::integer FROM created
$q$),

-- Every member of the cluster. The LEFT JOIN from the version row returns the version even with no members
-- (one row whose member columns are NULL).
('MembershipReadAllKey', $q$
SELECT
    v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
    m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
FROM OrleansMembershipVersionTable AS v
LEFT JOIN OrleansMembershipTable AS m ON m.DeploymentId = v.DeploymentId
WHERE v.DeploymentId = @DeploymentId
$q$),

-- One member and the version, same rule.
('MembershipReadRowKey', $q$
SELECT
    v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
    m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
FROM OrleansMembershipVersionTable AS v
LEFT JOIN OrleansMembershipTable AS m
    ON m.DeploymentId = v.DeploymentId
   AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
WHERE v.DeploymentId = @DeploymentId
$q$),

-- Inserts a member and bumps the version, both or neither: the version moves only where it still equals
-- @Version and the member does not exist yet; the insert reads the bumped row. A concurrent writer holding the
-- same version waits on the version row and then finds it changed. 1 on success, 0 otherwise.
('InsertMembershipKey', $q$
WITH bumped AS (
    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1, Timestamp = now()
     WHERE DeploymentId = @DeploymentId
       AND Version = @Version
       AND NOT EXISTS (
           SELECT 1 FROM OrleansMembershipTable
            WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation)
    RETURNING DeploymentId
),
inserted AS (
    INSERT INTO OrleansMembershipTable
        (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
    SELECT b.DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime
      FROM bumped AS b
    RETURNING 1
)
SELECT count(*)::integer FROM inserted
$q$),

-- Updates a member and bumps the version, both or neither (same optimistic rule). 1 on success, 0 otherwise.
('UpdateMembershipKey', $q$
WITH bumped AS (
    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1, Timestamp = now()
     WHERE DeploymentId = @DeploymentId
       AND Version = @Version
       AND EXISTS (
           SELECT 1 FROM OrleansMembershipTable
            WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation)
    RETURNING DeploymentId
),
updated AS (
    UPDATE OrleansMembershipTable AS m
       SET Status = @Status, SuspectTimes = @SuspectTimes, IAmAliveTime = @IAmAliveTime
      FROM bumped AS b
     WHERE m.DeploymentId = b.DeploymentId
       AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
    RETURNING 1
)
SELECT count(*)::integer FROM updated
$q$),

-- The heartbeat: not a membership change, so the version stays.
('UpdateIAmAlivetimeKey', $q$
UPDATE OrleansMembershipTable
   SET IAmAliveTime = @IAmAliveTime
 WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
$q$),

-- Gateways for clients: members with the requested status (Active) that listen for clients.
('GatewaysQueryKey', $q$
SELECT Address, ProxyPort, Generation
  FROM OrleansMembershipTable
 WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0
$q$),

-- Removes a whole cluster (members first, then the version row).
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId;
DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;
$q$),

-- Removes members that are not Active and have not sent a heartbeat since the cutoff.
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM OrleansMembershipTable
 WHERE DeploymentId = @DeploymentId AND IAmAliveTime < @IAmAliveTime AND Status <> 3
$q$),

-- Removes one Dead member, only if it still holds the values the caller read (a row changed meanwhile stays).
('CleanupDefunctSiloEntryKey', $q$
DELETE FROM OrleansMembershipTable
 WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
   AND Status = 6
   AND StartTime = @StartTime
   AND IAmAliveTime = @IAmAliveTime
   AND COALESCE(SuspectTimes, '') = COALESCE(@SuspectTimes, '')
$q$),

-- Grain storage ------------------------------------------------------------------------------------------------

-- At most one row: the payload (NULL after a clear) and its version.
('ReadFromStorageKey', $q$
SELECT PayloadBinary, Version
  FROM OrleansStorage
 WHERE ServiceId = @ServiceId
   AND GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
   AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
   AND GrainTypeString = @GrainTypeString
   AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString
$q$),

-- With a version: update where the stored version still equals it. Without: insert, unless a row exists.
-- Returns the new version on success; on a conflict the version sent (or NULL when none was sent), which the
-- provider turns into an InconsistentStateException.
('WriteToStorageKey', $q$
WITH updated AS (
    UPDATE OrleansStorage
       SET PayloadBinary = @PayloadBinary, ModifiedOn = now(), Version = Version + 1
     WHERE @GrainStateVersion IS NOT NULL
       AND ServiceId = @ServiceId
       AND GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
       AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
       AND GrainTypeString = @GrainTypeString
       AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString
       AND Version = @GrainStateVersion
    RETURNING Version
),
inserted AS (
    INSERT INTO OrleansStorage
        (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId,
         PayloadBinary, ModifiedOn, Version)
    SELECT @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId,
           @PayloadBinary, now(), 1
     WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING
    RETURNING Version
)
SELECT COALESCE((SELECT Version FROM updated), (SELECT Version FROM inserted), @GrainStateVersion) AS NewGrainStateVersion
$q$),

-- Keeps the row with a NULL payload and a new version (DeleteStateOnClear = false). No row on a version conflict.
('ClearStorageKey', $q$
UPDATE OrleansStorage
   SET PayloadBinary = NULL, ModifiedOn = now(), Version = Version + 1
 WHERE ServiceId = @ServiceId
   AND GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
   AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
   AND GrainTypeString = @GrainTypeString
   AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString
   AND Version = @GrainStateVersion
RETURNING Version AS NewGrainStateVersion
$q$),

-- Deletes the row (DeleteStateOnClear = true) and returns the deleted version + 1. No row on a version conflict.
('DeleteStorageKey', $q$
DELETE FROM OrleansStorage
 WHERE ServiceId = @ServiceId
   AND GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash
   AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
   AND GrainTypeString = @GrainTypeString
   AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString
   AND Version = @GrainStateVersion
RETURNING Version + 1 AS NewGrainStateVersion
$q$),

-- Reminders ----------------------------------------------------------------------------------------------------

('ReadReminderRowsKey', $q$
SELECT GrainId, ReminderName, StartTime, Period, Version
  FROM OrleansRemindersTable
 WHERE ServiceId = @ServiceId AND GrainId = @GrainId
$q$),

('ReadReminderRowKey', $q$
SELECT GrainId, ReminderName, StartTime, Period, Version
  FROM OrleansRemindersTable
 WHERE ServiceId = @ServiceId AND GrainId = @GrainId AND ReminderName = @ReminderName
$q$),

-- A ring range that does not wrap in signed order: (BeginHash, EndHash].
('ReadRangeRows1Key', $q$
SELECT GrainId, ReminderName, StartTime, Period, Version
  FROM OrleansRemindersTable
 WHERE ServiceId = @ServiceId AND GrainHash > @BeginHash AND GrainHash <= @EndHash
$q$),

-- A range that wraps: (BeginHash, max] and [min, EndHash].
('ReadRangeRows2Key', $q$
SELECT GrainId, ReminderName, StartTime, Period, Version
  FROM OrleansRemindersTable
 WHERE ServiceId = @ServiceId AND (GrainHash > @BeginHash OR GrainHash <= @EndHash)
$q$),

-- Inserts (version 0) or replaces (version + 1) a reminder; returns the new version, the reminder's ETag.
('UpsertReminderRowKey', $q$
INSERT INTO OrleansRemindersTable AS r (ServiceId, GrainId, ReminderName, StartTime, Period, GrainHash, Version)
VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
ON CONFLICT (ServiceId, GrainId, ReminderName) DO UPDATE
   SET StartTime = EXCLUDED.StartTime, Period = EXCLUDED.Period, GrainHash = EXCLUDED.GrainHash,
       Version = r.Version + 1
RETURNING r.Version AS Version
$q$),

-- Deletes a reminder if its ETag still matches: 1 when deleted, 0 otherwise.
('DeleteReminderRowKey', $q$
WITH deleted AS (
    DELETE FROM OrleansRemindersTable
     WHERE ServiceId = @ServiceId AND GrainId = @GrainId AND ReminderName = @ReminderName AND Version = @Version
    RETURNING 1
)
SELECT count(*)::integer FROM deleted
$q$),

('DeleteReminderRowsKey', $q$
DELETE FROM OrleansRemindersTable WHERE ServiceId = @ServiceId
$q$)

ON CONFLICT (QueryKey) DO UPDATE
   SET QueryText = EXCLUDED.QueryText
 WHERE OrleansQuery.QueryText IS DISTINCT FROM EXCLUDED.QueryText;
