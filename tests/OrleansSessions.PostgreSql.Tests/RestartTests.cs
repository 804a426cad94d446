using System.Diagnostics;
using System.Text;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Reminders;
using Xunit.Abstractions;

namespace OrleansSessions.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class RestartTests(PostgreSqlFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Providers_recover_by_themselves_after_a_PostgreSQL_restart()
    {
        await using var database = fixture.NewDatabase("restart");
        var storage = new PostgreSqlGrainStorage(database);
        var membership = new PostgreSqlMembershipTable(database);
        var reminders = new PostgreSqlReminderTable(database);
        await membership.InitializeAsync(default);
        await reminders.InitializeAsync(default);

        var grain = new GrainId(42, "restart");
        var stateName = PostgreSqlFixture.UniqueName("restart-state");
        var etag = await storage.WriteAsync(stateName, grain, Encoding.UTF8.GetBytes("before"), null, default);
        var silo = new SiloAddress("127.0.0.1", 11111, 1);
        Assert.True(await membership.TryUpsertAsync(new MembershipEntry { Silo = silo, Status = SiloStatus.Active, IAmAliveTime = DateTimeOffset.UtcNow }, 0, default));
        await reminders.UpsertRowAsync(new ReminderEntry { GrainId = grain, ReminderName = "r", StartAt = DateTimeOffset.UtcNow, Period = TimeSpan.FromMinutes(1) }, default);

        // Traffic keeps flowing through the restart: some of it fails, none of it may wedge the group-commit queue.
        using var stopTraffic = new CancellationTokenSource();
        var traffic = Task.Run(async () =>
        {
            int ok = 0, failed = 0, i = 0;
            while (!stopTraffic.IsCancellationRequested)
            {
                try
                {
                    await Task.WhenAll(Enumerable.Range(0, 20).Select(j =>
                        storage.WriteAsync(stateName, new GrainId(43, $"traffic-{i}-{j}"), [1, 2, 3], null, default)));
                    ok++;
                }
                catch (Exception)
                {
                    failed++;
                    await Task.Delay(20);
                }
                i++;
            }
            return (ok, failed);
        });

        await RestartPostgreSqlAsync();

        var stopwatch = Stopwatch.StartNew();
        var record = await Poll.UntilSucceedsAsync(() => storage.ReadAsync(stateName, grain, default), RecoveryTimeout, "grain state read after restart");
        output.WriteLine($"first successful read {stopwatch.ElapsedMilliseconds} ms after the restart command returned");
        Assert.Equal("before", Encoding.UTF8.GetString(record.Data!));
        Assert.Equal(etag, record.ETag);

        var newETag = await Poll.UntilSucceedsAsync(
            () => storage.WriteAsync(stateName, grain, Encoding.UTF8.GetBytes("after"), etag, default), RecoveryTimeout, "grain state write after restart");
        Assert.NotEqual(etag, newETag);

        var snapshot = await Poll.UntilSucceedsAsync(() => membership.ReadAllAsync(default), RecoveryTimeout, "membership read after restart");
        Assert.Equal(silo, Assert.Single(snapshot.Entries).Silo);
        Assert.True(await membership.TryUpsertAsync(snapshot.Entries[0] with { Status = SiloStatus.ShuttingDown }, snapshot.Version, default));
        await membership.UpdateIAmAliveAsync(silo, DateTimeOffset.UtcNow, default);

        Assert.NotNull(await Poll.UntilSucceedsAsync(() => reminders.ReadRowAsync(grain, "r", default), RecoveryTimeout, "reminder read after restart"));

        stopTraffic.Cancel();
        var (ok, failed) = await traffic;
        output.WriteLine($"traffic during restart: {ok} batches succeeded, {failed} failed");
        Assert.True(ok > 0);

        // The group-commit queue is not wedged: a fresh burst completes.
        await Task.WhenAll(Enumerable.Range(0, 100).Select(j =>
            storage.WriteAsync(stateName, new GrainId(44, $"after-{j}"), [4], null, default)));
    }

    private async Task RestartPostgreSqlAsync()
    {
        var version = Environment.GetEnvironmentVariable("ORLEANSSESSIONS_TEST_PG_VERSION") is { Length: > 0 } v
            ? v
            : Directory.GetDirectories("/usr/lib/postgresql")
                .Select(Path.GetFileName)
                .OrderBy(name => int.TryParse(name, out var n) ? n : 0)
                .Last()!;
        using var process = Process.Start(new ProcessStartInfo("pg_ctlcluster", [version, "main", "restart"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("could not start pg_ctlcluster");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        output.WriteLine($"pg_ctlcluster {version} main restart -> {process.ExitCode} {await stdout} {await stderr}");
        Assert.True(process.ExitCode == 0, $"pg_ctlcluster {version} main restart failed: {await stderr}");
    }
}
