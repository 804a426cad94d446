using System.Globalization;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Reminders;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// Sweeps one partition of the deadline index: every session whose indexed deadline passed is asked to expire
/// itself (<see cref="ISessionGrain.ExpireIfDueAsync"/>). The session decides from its own timestamps, so a stale
/// row costs one call and a session raced by its own timer still ends once.
/// </summary>
internal sealed class JanitorGrain : Grain, IJanitorGrain, IRemindable
{
    /// <summary>The name of the partition's reminder.</summary>
    public const string ReminderName = "janitor";

    private readonly SessionServices _services;
    private readonly int _partition;

    public JanitorGrain(SessionServices services)
    {
        _services = services;
        var key = GetPrimaryKeyString();
        _partition = int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            && partition < services.Janitor.Partitions
            && string.Equals(partition.ToString(CultureInfo.InvariantCulture), key, StringComparison.Ordinal)
                ? partition
                : -1;
    }

    public async Task EnsureStartedAsync()
    {
        ThrowIfInvalidKey();
        var period = _services.Janitor.Period;
        var existing = await GetReminder(ReminderName);
        if (existing is not null && existing.Period == period)
        {
            // Re-registering would push the next sweep a full period away on every silo start.
            return;
        }
        await RegisterOrUpdateReminder(ReminderName, period, period);
        SessionLog.JanitorStarted(_services.JanitorLogger, _partition, period);
    }

    public Task<int> RunNowAsync()
    {
        ThrowIfInvalidKey();
        return SweepAsync();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (_partition < 0 || !string.Equals(reminderName, ReminderName, StringComparison.Ordinal))
        {
            return;
        }
        await SweepAsync();
    }

    private async Task<int> SweepAsync()
    {
        var index = _services.DeadlineIndex;
        var batchSize = _services.Janitor.BatchSize;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var expired = 0;
        while (true)
        {
            var now = TimeProvider.GetUtcNow();
            var batch = await index.ReadDueAsync(_partition, now, batchSize);
            var calls = new List<Task<bool>>(batch.Count);
            foreach (var entry in batch)
            {
                // A row that survives its session's answer (the call failed) is left for the next sweep.
                if (seen.Add(entry.SessionId))
                {
                    calls.Add(ExpireAsync(entry.SessionId));
                }
            }
            if (calls.Count == 0)
            {
                break;
            }
            foreach (var ended in await Task.WhenAll(calls))
            {
                if (ended)
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
        return expired;
    }

    private async Task<bool> ExpireAsync(string sessionId)
    {
        try
        {
            return await GrainFactory.GetGrain<ISessionGrain>(sessionId).ExpireIfDueAsync();
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
