using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Reminders;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Placement;
using OrleansSessions.Runtime.Timers;

namespace OrleansSessions.Runtime.Reminders;

/// <summary>
/// Delivers the reminders this silo owns. A reminder belongs to the silo that owns its grain's hash on
/// the ring, the same rule as placement. When the ring changes the silo re-reads its ranges of the
/// reminder table, so reminders of a dead silo start ticking on the survivors. Ticks are grain calls
/// to <see cref="IRemindable.ReceiveReminder"/>, which activate the grain where needed.
/// </summary>
internal sealed partial class ReminderService : IAsyncDisposable
{
    private readonly IReminderTable _table;
    private readonly MembershipService _membership;
    private readonly LocalSilo _local;
    private readonly TimerScheduler _scheduler;
    private readonly ReminderOptions _options;
    private readonly ILogger _logger;
    private readonly IServiceProvider _services;
    private readonly ConcurrentDictionary<(GrainId, string), LocalReminder> _owned = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private SiloRuntimeClient? _client;
    private Task? _loop;

    public ReminderService(IReminderTable table, MembershipService membership, LocalSilo local, TimerScheduler scheduler,
        IOptions<ReminderOptions> options, ILogger<ReminderService> logger, IServiceProvider services)
    {
        _table = table;
        _membership = membership;
        _local = local;
        _scheduler = scheduler;
        _options = options.Value;
        _logger = logger;
        _services = services;
    }

    public TimeSpan MinimumPeriod => _options.MinimumReminderPeriod;

    public TimeProvider Clock => _scheduler.Clock;

    public IReminderTable Table => _table;

    public int OwnedCount => _owned.Count;

    private SiloRuntimeClient Client => _client ??= (SiloRuntimeClient)_services.GetService(typeof(SiloRuntimeClient))!;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _table.InitializeAsync(cancellationToken).ConfigureAwait(false);
        _membership.RingChanged += OnRingChanged;
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(LoopAsync);
    }

    private void OnRingChanged(HashRing ring) => _ = RefreshSafeAsync();

    private async Task RefreshSafeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        try
        {
            await RefreshAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            LogRefreshFailed(_logger, ex.Message);
        }
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(_options.RefreshPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                await RefreshSafeAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Reads the ranges this silo owns and schedules their reminders; drops reminders it no longer owns.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var ring = _membership.Ring;
            var seen = new HashSet<(GrainId, string)>();
            if (!ring.IsEmpty)
            {
                foreach (var (begin, end) in ring.RangesOf(_local.Address))
                {
                    foreach (var entry in await _table.ReadRangeAsync(begin, end, cancellationToken).ConfigureAwait(false))
                    {
                        if (ring.Owner(entry.GrainId.PlacementHash) == _local.Address)
                        {
                            seen.Add((entry.GrainId, entry.ReminderName));
                            Schedule(entry);
                        }
                    }
                }
            }
            foreach (var pair in _owned)
            {
                if (!seen.Contains(pair.Key) && _owned.TryRemove(pair.Key, out var dropped))
                {
                    dropped.Stop();
                }
            }
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    /// <summary>Schedules (or reschedules, when changed) a reminder this silo owns.</summary>
    public void Schedule(ReminderEntry entry)
    {
        var key = (entry.GrainId, entry.ReminderName);
        if (_owned.TryGetValue(key, out var existing))
        {
            if (existing.Entry.ETag == entry.ETag)
            {
                return;
            }
            existing.Stop();
        }
        var reminder = new LocalReminder(this, entry);
        _owned[key] = reminder;
        reminder.ScheduleNext(_scheduler.Clock.GetUtcNow());
    }

    public void Unschedule(GrainId grainId, string reminderName)
    {
        if (_owned.TryRemove((grainId, reminderName), out var reminder))
        {
            reminder.Stop();
        }
    }

    /// <summary>True when this silo owns reminders of <paramref name="grainId"/>.</summary>
    public bool Owns(GrainId grainId)
    {
        var owner = _membership.Ring.Owner(grainId.PlacementHash);
        return owner is null || owner == _local.Address;
    }

    private async Task DeliverAsync(LocalReminder reminder, DateTimeOffset dueAt)
    {
        var entry = reminder.Entry;
        try
        {
            var remindable = GrainInterfaceRegistry.CreateProxy<IRemindable>(entry.GrainId, Client);
            await remindable.ReceiveReminder(entry.ReminderName, new TickStatus(entry.StartAt, entry.Period, dueAt)).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogTickFailed(_logger, entry.ReminderName, entry.GrainId, ex.Message);
        }
        finally
        {
            if (!reminder.IsStopped)
            {
                reminder.ScheduleNext(_scheduler.Clock.GetUtcNow());
            }
        }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _membership.RingChanged -= OnRingChanged;
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        foreach (var reminder in _owned.Values)
        {
            reminder.Stop();
        }
        _owned.Clear();
        // The semaphore and the token source are left to the GC: a refresh started by a late ring change may still
        // be waiting on them, and it returns at once because stopping is cancelled.
    }

    /// <summary>One owned reminder, scheduled on the silo's timer facility.</summary>
    private sealed class LocalReminder(ReminderService service, ReminderEntry entry) : ITimerTarget
    {
        private long _version;
        private volatile bool _stopped;
        private DateTimeOffset _due;

        public ReminderEntry Entry { get; } = entry;

        public bool IsStopped => _stopped;

        public void ScheduleNext(DateTimeOffset now)
        {
            // Ticks fall on StartAt + k * Period; a tick missed while no silo owned the reminder is delivered once, at once.
            var next = Entry.StartAt;
            if (next <= now && Entry.Period > TimeSpan.Zero)
            {
                var periods = (now - Entry.StartAt).Ticks / Entry.Period.Ticks + 1;
                next = Entry.StartAt + TimeSpan.FromTicks(periods * Entry.Period.Ticks);
                if (_due == default && now > Entry.StartAt)
                {
                    // first schedule on this silo after ticks were missed
                    next = now;
                }
            }
            _due = next;
            var version = Interlocked.Increment(ref _version);
            service._scheduler.Schedule(this, version, next.UtcTicks);
        }

        public void OnDue(long version)
        {
            if (_stopped || version != Volatile.Read(ref _version))
            {
                return;
            }
            _ = service.DeliverAsync(this, _due);
        }

        public void Stop()
        {
            _stopped = true;
            Interlocked.Increment(ref _version);
        }
    }

    [LoggerMessage(EventId = 600, Level = LogLevel.Warning, Message = "Reminder refresh failed: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Reminder {Reminder} of {GrainId} failed: {Reason}")]
    private static partial void LogTickFailed(ILogger logger, string reminder, GrainId grainId, string reason);
}
