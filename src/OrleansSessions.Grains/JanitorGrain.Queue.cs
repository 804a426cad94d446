using System.Globalization;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Storage;

namespace OrleansSessions.Grains;

/// <summary>
/// The partition's queue: the due points (warning points and deadlines) of its sessions in the next Janitor:Window,
/// loaded from the deadline index, and one grain timer at the earliest. This is what keeps the deadlines of dormant
/// sessions: at a point the partition wakes the session (<see cref="ISessionLifecycleGrain.WakeAsync"/>), which
/// publishes its warning or ends through its own end path, deciding from its own stored timestamps.
/// </summary>
/// <remarks>
/// <para>
/// Modelled on how Orleans schedules durable one-shot work (DurableJobs' time-sharded job shards, each loaded by its
/// owner for the near future, and the reminder service's per-silo schedule): the durable deadline index is the
/// schedule, and each partition holds only its near future in memory. A point is the row's deadline minus
/// Sessions:WarningBefore (the deadline when warnings are off, and for a user's history-retention row).
/// </para>
/// <para>
/// Windows follow each other: a load reads the rows whose points fall after the previous window's end and up to now +
/// Janitor:Window, in pages ordered by (deadline, session id). A row rewritten later with a point inside a loaded
/// window belongs to a session that was touched; when it goes dormant it tells the partition
/// (<see cref="ScheduleAsync"/>). The row of a live session is never later than its real deadline, so a point taken
/// from the index is never late: at worst the wake is early and the session answers that it is not due. A session
/// woken at its warning point stays activated and ends on its own timer.
/// </para>
/// <para>
/// Ownership: the partition's reminder activates it on some silo and, after that silo dies, on another one; the new
/// activation loads its first window from the start of the index (everything overdue included), so nothing is missed,
/// and the session's own state decides, so nothing ends twice. The activation is kept (DelayDeactivation) until its
/// silo stops. The sweep (<see cref="SweepAsync"/>) stays as the backstop for rows that are due.
/// </para>
/// </remarks>
internal sealed partial class JanitorGrain
{
    // The longest the queue's timer waits, so the activation is kept and windows are loaded on time.
    private static readonly TimeSpan MaxTimerWait = TimeSpan.FromMinutes(1);

    // How long a failed window load waits before it is tried again.
    private static readonly TimeSpan LoadRetry = TimeSpan.FromSeconds(5);

    private readonly PriorityQueue<string, long> _queue = new();
    private readonly Dictionary<string, DuePoint> _points = new(StringComparer.Ordinal);
    private IGrainTimer? _queueTimer;
    private long _armedTicks = long.MaxValue;

    // The end of the loaded window: every point up to it is in the queue (or was woken). Null until the first load.
    private DateTimeOffset? _loadedUntil;
    private bool _loadFailed;

    /// <summary>Due points held (tests).</summary>
    internal int QueuedCount => _points.Count;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (_partition >= 0)
        {
            // Kept until its silo stops or dies (then its reminder activates it elsewhere): idle collection, forced or
            // not, must not drop the queue.
            DelayDeactivation(Timeout.InfiniteTimeSpan);
            _queueTimer = this.RegisterGrainTimer(
                static (self, _) => self.OnQueueTimerAsync(), this, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });
            _armedTicks = _time.GetUtcNow().UtcTicks;
        }
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _queueTimer?.Dispose();
        _queueTimer = null;
        _services.Metrics.JanitorQueueChanged(-_points.Count);
        _points.Clear();
        _queue.Clear();
        return Task.CompletedTask;
    }

    public Task ScheduleAsync(string sessionId, DateTimeOffset point, DateTimeOffset deadline)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        if (_partition >= 0 && _loadedUntil is { } loadedUntil && point <= loadedUntil)
        {
            Enqueue(sessionId, point.UtcTicks, deadline.UtcTicks);
            if (point.UtcTicks < _armedTicks)
            {
                Arm(_time.GetUtcNow(), point);
            }
        }
        return Task.CompletedTask;
    }

    private async Task OnQueueTimerAsync()
    {
        try
        {
            var now = _time.GetUtcNow();
            if (_loadedUntil is not { } until || until - now < _services.Janitor.Window / 2)
            {
                await LoadWindowAsync(now);
            }
            await WakeDueAsync();
        }
        catch (Exception exception)
        {
            SessionLog.JanitorQueueFailed(_services.JanitorLogger, exception, _partition);
        }
        finally
        {
            if (_queueTimer is not null)
            {
                ArmNext(_time.GetUtcNow());
            }
        }
    }

    /// <summary>Loads the next window's points from the deadline index, page by page, up to Janitor:QueueLimit.</summary>
    private async Task LoadWindowAsync(DateTimeOffset now)
    {
        var janitor = _services.Janitor;
        var warning = _services.Options.WarningBefore;
        var until = now + janitor.Window;
        var previous = _loadedUntil;
        // Points after the previous window's end: deadlines after it plus the warning time (the first load reads all).
        var from = previous is { } p ? p + warning : DateTimeOffset.MinValue;
        var to = until + warning;
        var limit = janitor.BatchSize;
        var added = 0;
        string? lastId = null;
        var lastDeadline = from;
        try
        {
            while (true)
            {
                var page = await _services.DeadlineIndex.ReadRangeAsync(_partition, lastDeadline, to, limit);
                var fresh = 0;
                foreach (var row in page)
                {
                    if (lastId is not null && (row.Deadline < lastDeadline || (row.Deadline == lastDeadline && string.CompareOrdinal(row.SessionId, lastId) <= 0)))
                    {
                        continue; // read by the previous page
                    }
                    fresh++;
                    lastId = row.SessionId;
                    lastDeadline = row.Deadline;
                    var point = PointOf(row, warning);
                    if (previous is { } loaded && point <= loaded)
                    {
                        continue; // a point of an earlier window
                    }
                    Enqueue(row.SessionId, point.UtcTicks, row.Deadline.UtcTicks);
                    added++;
                    if (_points.Count >= janitor.QueueLimit)
                    {
                        // Full: the window ends just before this point; the rest comes with the next load.
                        until = point - TimeSpan.FromTicks(1);
                        break;
                    }
                }
                if (_points.Count >= janitor.QueueLimit || page.Count < limit)
                {
                    break;
                }
                if (fresh == 0)
                {
                    // A whole page of one deadline already read: read more of it at once.
                    limit = checked(limit * 2);
                }
            }
            _loadedUntil = until;
            _loadFailed = false;
            SessionLog.JanitorWindowLoaded(_services.JanitorLogger, _partition, added, until);
        }
        catch (Exception exception)
        {
            // What was read stays queued; the window is read again from the same start.
            _loadFailed = true;
            SessionLog.JanitorWindowLoadFailed(_services.JanitorLogger, exception, _partition);
        }
    }

    private static DateTimeOffset PointOf(SessionDeadlineEntry row, TimeSpan warning)
        => warning > TimeSpan.Zero && DeadlineKeys.HistoryUser(row.SessionId) is null ? row.Deadline - warning : row.Deadline;

    /// <summary>Wakes every session whose point has come, a batch at a time, in parallel within a batch.</summary>
    private async Task WakeDueAsync()
    {
        var batchSize = _services.Janitor.BatchSize;
        var batch = new List<(string Id, DuePoint Due)>(Math.Min(batchSize, 1024));
        while (true)
        {
            var now = _time.GetUtcNow();
            batch.Clear();
            while (batch.Count < batchSize && _queue.TryPeek(out var id, out var ticks) && ticks <= now.UtcTicks)
            {
                _queue.Dequeue();
                if (_points.TryGetValue(id, out var due) && due.Point == ticks)
                {
                    _points.Remove(id);
                    _services.Metrics.JanitorQueueChanged(-1);
                    batch.Add((id, due));
                }
            }
            if (batch.Count == 0)
            {
                return;
            }
            var woken = batch.ToArray();
            await BoundedCalls.RunAsync(woken.Length, i => WakeAsync(woken[i].Id, woken[i].Due), _services.Metrics);
        }
    }

    private async Task<bool> WakeAsync(string key, DuePoint due)
    {
        var deadline = new DateTimeOffset(due.Deadline, TimeSpan.Zero);
        _services.Metrics.JanitorLag(_time.GetUtcNow() - new DateTimeOffset(due.Point, TimeSpan.Zero), warning: due.Point < due.Deadline);
        try
        {
            if (DeadlineKeys.HistoryUser(key) is { } userId)
            {
                await GrainFactory.GetGrain<IUserRetentionGrain>(userId).ApplyRetentionAsync();
                return false;
            }
            var ended = await GrainFactory.GetGrain<ISessionLifecycleGrain>(key).WakeAsync(deadline);
            if (ended)
            {
                _services.Metrics.JanitorExpired(1);
            }
            return ended;
        }
        catch (Exception exception)
        {
            // The row stays: the sweep (or the next activation's first window) finds it again.
            SessionLog.JanitorSessionFailed(_services.JanitorLogger, exception, _partition, key);
            return false;
        }
    }

    private void Enqueue(string key, long point, long deadline)
    {
        if (!_points.ContainsKey(key))
        {
            _services.Metrics.JanitorQueueChanged(1);
        }
        _points[key] = new DuePoint(point, deadline);
        _queue.Enqueue(key, point);
        if (_queue.Count > 2 * _points.Count + 1024)
        {
            Compact();
        }
    }

    /// <summary>Drops the queue's stale entries (points replaced since they were queued).</summary>
    private void Compact()
    {
        _queue.Clear();
        foreach (var (key, due) in _points)
        {
            _queue.Enqueue(key, due.Point);
        }
    }

    private void ArmNext(DateTimeOffset now)
    {
        var next = now + (_loadFailed ? LoadRetry : MaxTimerWait);
        if (_loadedUntil is { } until && until - _services.Janitor.Window / 2 < next)
        {
            next = until - _services.Janitor.Window / 2;
        }
        if (_queue.TryPeek(out _, out var ticks) && ticks < next.UtcTicks)
        {
            next = new DateTimeOffset(ticks, TimeSpan.Zero);
        }
        Arm(now, next);
    }

    private void Arm(DateTimeOffset now, DateTimeOffset at)
    {
        _armedTicks = at.UtcTicks;
        _queueTimer?.Change(at > now ? at - now : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The partition's key for a session's partition number.</summary>
    internal static string Key(int partition) => partition.ToString(CultureInfo.InvariantCulture);

    private readonly record struct DuePoint(long Point, long Deadline);
}
