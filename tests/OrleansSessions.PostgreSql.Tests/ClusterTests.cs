using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansSessions.Grains;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;
using Xunit.Abstractions;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlClusterCollection.Name)]
public sealed class ClusterTests(PostgreSqlClusterFixture fixture, ITestOutputHelper output)
{
    private const int Active = 3;
    private const int Dead = 6;

    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task The_membership_table_shows_every_silo_active()
    {
        foreach (var silo in Cluster.Silos)
        {
            var status = await MemberStatusAsync(silo.SiloAddress);
            Assert.Equal(Active, status);
        }
        Assert.True(await fixture.ScalarAsync<int>(
            "SELECT Version FROM OrleansMembershipVersionTable WHERE DeploymentId = $1", fixture.ClusterId) >= 2);
        // The client found its gateways through GatewaysQueryKey, or none of the grain tests could call.
        Assert.True(await Cluster.Client.GetGrain<IUserSessionsGrain>("user-membership").GetCurrentSessionAsync() is null);
    }

    [Fact]
    public async Task A_stopped_silo_is_dead_in_the_membership_table_and_cleanup_removes_its_row()
    {
        var extra = await Cluster.StartAdditionalSiloAsync();
        await Wait.UntilAsync(async () => await MemberStatusAsync(extra.SiloAddress) == Active, what: "the extra silo becoming Active");

        await Cluster.StopSiloAsync(extra);
        await Wait.UntilAsync(async () => await MemberStatusAsync(extra.SiloAddress) == Dead, what: "the stopped silo's row becoming Dead");

        // Orleans' defunct-silo cleanup (CleanupDefunctSiloEntryKey: only an unchanged Dead row) removes it; active rows stay.
        var membership = SiloServices().GetRequiredService<IMembershipTable>();
        await membership.CleanupDefunctSiloEntriesAsync(DateTimeOffset.UtcNow.AddSeconds(1), CancellationToken.None);
        Assert.Null(await MemberStatusAsync(extra.SiloAddress));
        foreach (var silo in Cluster.Silos)
        {
            Assert.Equal(Active, await MemberStatusAsync(silo.SiloAddress));
        }
    }

    [Fact]
    public async Task A_user_with_hundreds_of_live_sessions_keeps_them_in_page_rows_that_a_close_all_deletes()
    {
        var userId = "heavy-" + Guid.NewGuid().ToString("N");
        var users = Cluster.Client.GetGrain<IUserSessionsGrain>(userId);
        var ids = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            ids.Add((await users.CreateSessionAsync()).SessionId);
        }
        var pageRows = $"SELECT count(*) FROM {PostgreSqlSchema.StateTable} WHERE service_id = $1 AND state_name = $2 AND grain_id LIKE $3";
        Assert.Equal(2, await fixture.ScalarAsync<long>(pageRows, fixture.ServiceId, SessionStorage.UserPageStateName, "user-sessions-page/" + userId + "/%"));

        await Cluster.DeactivateAsync(users);
        Assert.Equal(300, (await users.GetActiveSessionsPageAsync(1, null)).Total);
        Assert.Equal(ids, (await users.GetAllActiveSessionsAsync(pageSize: 128)).Select(s => s.SessionId));

        Assert.Equal(300, await users.CloseAllAsync());
        Assert.Equal(0, await fixture.ScalarAsync<long>(pageRows, fixture.ServiceId, SessionStorage.UserPageStateName, "user-sessions-page/" + userId + "/%"));
    }

    [Fact]
    public async Task A_session_created_touched_and_closed_survives_deactivation_in_the_storage_table()
    {
        var userId = "user-" + Guid.NewGuid().ToString("N");
        var users = Cluster.Client.GetGrain<IUserSessionsGrain>(userId);
        var created = await users.CreateSessionAsync();
        var session = Cluster.Client.GetGrain<ISessionGrain>(created.SessionId);
        var touched = await session.TouchAsync();
        Assert.True(touched.LastActivity >= created.LastActivity);

        await Cluster.DeactivateAsync(session);
        await Cluster.DeactivateAsync(users);
        var reread = await session.GetAsync();
        Assert.Equal(touched.LastActivity, reread.LastActivity);
        Assert.Equal(touched.ExpiresAt, reread.ExpiresAt);
        Assert.Equal(SessionStatus.Active, reread.Status);
        Assert.Equal(created.SessionId, Assert.Single(await users.GetActiveSessionsAsync()).SessionId);

        var closed = await session.CloseAsync();
        Assert.Equal(SessionStatus.Closed, closed.Status);
        await Cluster.DeactivateAsync(session);
        await Cluster.DeactivateAsync(users);
        Assert.Equal(SessionStatus.Closed, (await session.GetAsync()).Status);
        Assert.Equal(EndReason.Logout, (await session.GetAsync()).EndReason);
        Assert.Empty(await users.GetActiveSessionsAsync());

        // The rows: one per state, keyed by ServiceId, state name and the GrainId ("type/key").
        var sessionRows = await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM {PostgreSqlSchema.StateTable} WHERE service_id = $1 AND state_name = $2 AND grain_id = $3",
            fixture.ServiceId, SessionStorage.SessionStateName, "session/" + created.SessionId);
        Assert.Equal(1, sessionRows);
        var version = await fixture.ScalarAsync<int>(
            $"SELECT version FROM {PostgreSqlSchema.StateTable} WHERE service_id = $1 AND state_name = $2 AND grain_id = $3",
            fixture.ServiceId, SessionStorage.SessionStateName, "session/" + created.SessionId);
        Assert.True(version >= 3, $"create, touch and close each wrote the session (version {version})");
        var userRows = await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM {PostgreSqlSchema.StateTable} WHERE service_id = $1 AND state_name = $2 AND grain_id = $3",
            fixture.ServiceId, SessionStorage.UserStateName, "user-sessions/" + userId);
        Assert.Equal(1, userRows);

        // The deadline index row was written while the session lived and removed when it ended.
        var deadlines = await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM {PostgreSqlSchema.DeadlinesTable} WHERE service_id = $1 AND session_id = $2", fixture.ServiceId, created.SessionId);
        Assert.Equal(0, deadlines);
        Assert.IsType<PostgreSqlSessionDeadlineIndex>(SiloServices().GetRequiredService<ISessionDeadlineIndex>());
    }

    [Fact]
    public async Task A_live_session_has_a_deadline_row_under_the_service_id()
    {
        var created = await Cluster.Client.GetGrain<IUserSessionsGrain>("user-" + Guid.NewGuid().ToString("N")).CreateSessionAsync();
        var index = (PostgreSqlSessionDeadlineIndex)SiloServices().GetRequiredService<ISessionDeadlineIndex>();
        Assert.Equal(fixture.ServiceId, index.ServiceId);
        var deadline = await fixture.ScalarAsync<DateTime>(
            $"SELECT deadline FROM {PostgreSqlSchema.DeadlinesTable} WHERE service_id = $1 AND session_id = $2", fixture.ServiceId, created.SessionId);
        Assert.True(deadline <= created.ExpiresAt.UtcDateTime);
    }

    [Fact]
    public async Task A_session_s_events_are_rows_of_the_event_log_under_the_service_id_and_read_back_through_the_log_grain()
    {
        var log = Cluster.Client.GetGrain<ISessionEventLogGrain>(0);
        var start = await log.HeadAsync();
        var userId = "user-" + Guid.NewGuid().ToString("N");
        var created = await Cluster.Client.GetGrain<IUserSessionsGrain>(userId).CreateSessionAsync();
        await Cluster.Client.GetGrain<ISessionGrain>(created.SessionId).CloseAsync();

        var page = await log.ReadAsync(start, ISessionEventLogGrain.MaxLimit, userId);
        Assert.Equal([SessionEventType.Created, SessionEventType.Closed], page.Events.Select(e => e.Type));
        Assert.All(page.Events, e => Assert.Equal(created.SessionId, e.Session.SessionId));
        Assert.Equal(2, await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM {PostgreSqlSchema.EventsTable} WHERE service_id = $1 AND session_id = $2", fixture.ServiceId, created.SessionId));
        var eventLog = Assert.IsType<PostgreSqlSessionEventLog>(SiloServices().GetRequiredService<ISessionEventLog>());
        Assert.Equal(fixture.ServiceId, eventLog.ServiceId);
    }

    [Fact]
    public async Task Writes_through_the_grain_storage_check_the_etag()
    {
        var storage = SiloServices().GetRequiredKeyedService<IGrainStorage>(SessionStorage.Name);
        Assert.IsType<PostgreSqlGrainStorage>(storage);
        var grainId = GrainId.Create("pgtest", Guid.NewGuid().ToString("N"));
        const string stateName = "pgtest-state";

        var first = new GrainState<Dictionary<string, string>>(new() { ["v"] = "1" });
        await storage.WriteStateAsync(stateName, grainId, first);
        Assert.Equal("1", first.ETag);

        var stale = new GrainState<Dictionary<string, string>>(new() { ["v"] = "stale" }) { ETag = first.ETag };
        first.State!["v"] = "2";
        await storage.WriteStateAsync(stateName, grainId, first);
        Assert.Equal("2", first.ETag);

        // A writer holding an old ETag, and one that never read (null ETag) while a row exists, both conflict.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(stateName, grainId, stale));
        var blind = new GrainState<Dictionary<string, string>>(new() { ["v"] = "blind" });
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(stateName, grainId, blind));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(stateName, grainId, stale));

        var read = new GrainState<Dictionary<string, string>>();
        await storage.ReadStateAsync(stateName, grainId, read);
        Assert.Equal("2", read.ETag);
        Assert.True(read.RecordExists);
        Assert.Equal("2", read.State!["v"]);

        // Clear deletes the row (DeleteStateOnClear); a new first write starts over.
        await storage.ClearStateAsync(stateName, grainId, read);
        Assert.Null(read.ETag);
        Assert.Equal(0, await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM {PostgreSqlSchema.StateTable} WHERE service_id = $1 AND state_name = $2", fixture.ServiceId, stateName));
        var empty = new GrainState<Dictionary<string, string>>();
        await storage.ReadStateAsync(stateName, grainId, empty);
        Assert.False(empty.RecordExists);
        Assert.Null(empty.ETag);
        await storage.WriteStateAsync(stateName, grainId, empty);
        Assert.Equal("1", empty.ETag);
    }

    [Fact]
    public async Task A_reminder_on_postgres_ticks_and_its_row_is_in_the_reminders_table()
    {
        var key = Guid.NewGuid().ToString("N");
        var grain = Cluster.Client.GetGrain<ITickGrain>(key);
        var grainId = grain.GetGrainId().ToString();
        await grain.StartAsync(TimeSpan.FromSeconds(1));
        var row = await fixture.ScalarAsync<long>(
            "SELECT Period FROM OrleansRemindersTable WHERE ServiceId = $1 AND GrainId = $2 AND ReminderName = $3",
            fixture.ServiceId, grainId, TickGrain.ReminderName);
        Assert.Equal(1000, row);

        await Wait.UntilAsync(() => Task.FromResult(TickGrain.Ticks.GetValueOrDefault(key) >= 2), what: "two reminder ticks");
        output.WriteLine($"ticks: {TickGrain.Ticks.GetValueOrDefault(key)}");

        await grain.StopAsync();
        Assert.Equal(0, await fixture.ScalarAsync<long>(
            "SELECT count(*) FROM OrleansRemindersTable WHERE ServiceId = $1 AND GrainId = $2", fixture.ServiceId, grainId));
    }

    [Fact]
    public async Task The_janitor_has_one_reminder_row_per_partition()
    {
        await Wait.UntilAsync(async () => await fixture.ScalarAsync<long>(
                "SELECT count(*) FROM OrleansRemindersTable WHERE ServiceId = $1 AND GrainId LIKE 'janitor/%' AND ReminderName LIKE 'janitor@%'",
                fixture.ServiceId) == PostgreSqlClusterFixture.JanitorPartitions,
            what: "the janitor reminders of every partition");
        await using var command = fixture.DataSource.CreateCommand(
            "SELECT GrainId FROM OrleansRemindersTable WHERE ServiceId = $1 AND GrainId LIKE 'janitor/%' ORDER BY GrainId");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = fixture.ServiceId });
        var ids = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetString(0));
            }
        }
        Assert.Equal(Enumerable.Range(0, PostgreSqlClusterFixture.JanitorPartitions).Select(p => $"janitor/{p}"), ids);
    }

    private IServiceProvider SiloServices() => ((InProcessSiloHandle)Cluster.GetActiveSilos().First()).SiloHost.Services;

    private async Task<int?> MemberStatusAsync(SiloAddress silo)
    {
        await using var command = fixture.DataSource.CreateCommand(
            "SELECT Status FROM OrleansMembershipTable WHERE DeploymentId = $1 AND Address = $2 AND Port = $3 AND Generation = $4");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = fixture.ClusterId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = silo.Endpoint.Address.ToString() });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = silo.Endpoint.Port });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = silo.Generation });
        return await command.ExecuteScalarAsync() is int status ? status : null;
    }
}
