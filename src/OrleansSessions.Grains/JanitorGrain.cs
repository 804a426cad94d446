using System.Globalization;
using Orleans.Runtime;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// Sweeps one partition of the deadline index on an Orleans reminder. Each due row asks its session to expire itself
/// (<see cref="ISessionLifecycleGrain.ExpireIfDueAsync"/>), which decides from its own timestamps: a stale row costs
/// one call, and a session raced by its own timer, a logout or another sweep still ends once.
/// </summary>
[GrainType("janitor")]
internal sealed partial class JanitorGrain : Grain, IJanitorGrain, IJanitorQueueGrain, IRemindable
{
    /// <summary>The prefix of the partition's reminder name; the name carries the period ("janitor@00:05:00").</summary>
    public const string ReminderPrefix = "janitor@";

    private readonly SessionServices _services;
    private readonly TimeProvider _time;
    private readonly int _partition;

    public JanitorGrain(SessionServices services, TimeProvider time)
    {
        _services = services;
        _time = time;
        _partition = ParsePartition(this.GetPrimaryKeyString(), services.Janitor.Partitions);
    }

    /// <summary>The partition a janitor key names, or -1 when it names none ("0".."partitions-1", no sign or padding).</summary>
    internal static int ParsePartition(string key, int partitions)
        => int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            && partition < partitions
            && string.Equals(partition.ToString(CultureInfo.InvariantCulture), key, StringComparison.Ordinal)
                ? partition
                : -1;

    public async Task EnsureStartedAsync()
    {
        ThrowIfInvalidKey();
        var period = _services.Janitor.Period;
        var name = ReminderName(period);
        var existing = await this.GetReminders();
        var found = false;
        foreach (var reminder in existing)
        {
            if (string.Equals(reminder.ReminderName, name, StringComparison.Ordinal))
            {
                found = true;
            }
            else if (reminder.ReminderName.StartsWith(ReminderPrefix, StringComparison.Ordinal))
            {
                // Registered with another Janitor:Period before.
                await this.UnregisterReminder(reminder);
            }
        }
        if (found)
        {
            // Re-registering would push the next sweep a full period away on every silo start.
            return;
        }
        await this.RegisterOrUpdateReminder(name, period, period);
        SessionLog.JanitorStarted(_services.JanitorLogger, _partition, period);
    }

    public Task<int> RunNowAsync()
    {
        ThrowIfInvalidKey();
        return SweepAsync();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (_partition < 0 || !reminderName.StartsWith(ReminderPrefix, StringComparison.Ordinal))
        {
            return;
        }
        await SweepAsync();
    }

    /// <summary>The reminder name for <paramref name="period"/>.</summary>
    internal static string ReminderName(TimeSpan period) => ReminderPrefix + period.ToString("c", CultureInfo.InvariantCulture);

    private async Task<int> SweepAsync()
    {
        var index = _services.DeadlineIndex;
        var batchSize = _services.Janitor.BatchSize;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var expired = 0;
        while (true)
        {
            var batch = await index.ReadDueAsync(_partition, _time.GetUtcNow(), batchSize);
            var due = new List<string>(batch.Count);
            foreach (var entry in batch)
            {
                // A row that survives its session's answer (the call failed) is left for the next sweep.
                if (seen.Add(entry.SessionId))
                {
                    due.Add(entry.SessionId);
                }
            }
            if (due.Count == 0)
            {
                break;
            }
            foreach (var call in await BoundedCalls.RunAsync(due.Count, i => ExpireAsync(due[i]), _services.Metrics))
            {
                // ExpireAsync never throws.
                if (call.Result)
                {
                    expired++;
                }
            }
            if (batch.Count < batchSize)
            {
                break;
            }
        }
        _services.Metrics.JanitorExpired(expired);
        SessionLog.JanitorSwept(_services.JanitorLogger, _partition, expired);
        try
        {
            // The event log's retention, partition by partition: no reminder or timer of its own.
            await _services.EventLog.TrimAsync(_partition, _time.GetUtcNow() - _services.EventLogOptions.Retention);
        }
        catch (Exception exception)
        {
            SessionLog.EventLogTrimFailed(_services.JanitorLogger, exception, _partition);
        }
        return expired;
    }

    private async Task<bool> ExpireAsync(string sessionId)
    {
        try
        {
            if (DeadlineKeys.HistoryUser(sessionId) is { } userId)
            {
                // A user's history-retention row: not a session, so it counts as no expiry.
                await GrainFactory.GetGrain<IUserRetentionGrain>(userId).ApplyRetentionAsync();
                return false;
            }
            return await GrainFactory.GetGrain<ISessionLifecycleGrain>(sessionId).ExpireIfDueAsync();
        }
        catch (Exception exception)
        {
            SessionLog.JanitorSessionFailed(_services.JanitorLogger, exception, _partition, sessionId);
            return false;
        }
    }

    private void ThrowIfInvalidKey()
    {
        if (_partition < 0)
        {
            DeactivateOnIdle();
            throw new ArgumentException($"A janitor key is a partition number from 0 to {_services.Janitor.Partitions - 1} (Janitor:Partitions).", "partition");
        }
    }
}
