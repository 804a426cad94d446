using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Messaging;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.Runtime.Messaging;
using OrleansSessions.Runtime.Placement;

namespace OrleansSessions.Runtime.Membership;

/// <summary>
/// Keeps this silo's view of the cluster: joins and leaves through compare-and-swap writes to the
/// membership table, writes heartbeats, reads the table periodically, and probes a few other silos
/// directly. A silo that misses <see cref="MembershipOptions.NumMissedProbesLimit"/> probes in a row,
/// or whose heartbeat is older than <see cref="MembershipOptions.IAmAliveTimeout"/>, is declared dead;
/// it leaves the ring and its grains and reminders move to the survivors. Runs on real time always.
/// </summary>
internal sealed partial class MembershipService : IAsyncDisposable
{
    private readonly IMembershipTable _table;
    private readonly LocalSilo _local;
    private readonly MembershipOptions _options;
    private readonly ILogger _logger;
    private readonly ConnectionManager _connections;
    private readonly ConcurrentDictionary<string, int> _missedProbes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _probes = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private readonly List<Task> _loops = [];
    private long _probeIds;
    private volatile MembershipTableSnapshot _snapshot = new([], -1);
    private volatile HashRing _ring = HashRing.Empty;
    private DateTimeOffset _startTime;
    private DateTimeOffset? _tableHealthySince;

    public MembershipService(IMembershipTable table, LocalSilo local, IOptions<MembershipOptions> options, ConnectionManager connections, ILogger<MembershipService> logger)
    {
        _table = table;
        _local = local;
        _options = options.Value;
        _connections = connections;
        _logger = logger;
    }

    /// <summary>The ring of active silos used for placement and reminder ownership.</summary>
    public HashRing Ring => _ring;

    public MembershipTableSnapshot Snapshot => _snapshot;

    /// <summary>Raised after the set of active silos changed.</summary>
    public event Action<HashRing>? RingChanged;

    /// <summary>Raised when this silo finds itself declared dead.</summary>
    public event Action? DeclaredDead;

    public bool IsStopped => _stopping.IsCancellationRequested;

    public async Task JoinAsync(CancellationToken cancellationToken)
    {
        await _table.InitializeAsync(cancellationToken).ConfigureAwait(false);
        _startTime = DateTimeOffset.UtcNow;
        await UpdateStatusAsync(SiloStatus.Joining, cancellationToken).ConfigureAwait(false);
        LogJoining(_logger, _local.Address);
    }

    public async Task BecomeActiveAsync(CancellationToken cancellationToken)
    {
        await UpdateStatusAsync(SiloStatus.Active, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        _loops.Add(Task.Run(() => LoopAsync(_options.TableRefreshPeriod, RefreshAsync)));
        _loops.Add(Task.Run(() => LoopAsync(_options.IAmAlivePeriod, HeartbeatAsync)));
        _loops.Add(Task.Run(() => LoopAsync(_options.ProbePeriod, ProbeAsync)));
        LogActive(_logger, _local.Address);
    }

    /// <summary>Marks this silo as shutting down: it leaves placement at once.</summary>
    public async Task BeginLeaveAsync(CancellationToken cancellationToken)
    {
        await UpdateStatusAsync(SiloStatus.ShuttingDown, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks this silo dead and stops the loops.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        await StopLoopsAsync().ConfigureAwait(false);
        await UpdateStatusAsync(SiloStatus.Dead, cancellationToken).ConfigureAwait(false);
        LogLeft(_logger, _local.Address);
    }

    public async Task StopLoopsAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task UpdateStatusAsync(SiloStatus status, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var snapshot = await _table.ReadAllAsync(cancellationToken).ConfigureAwait(false);
            var entry = new MembershipEntry
            {
                Silo = _local.Address,
                Status = status,
                GatewayPort = _local.GatewayPort,
                HttpPort = _local.HttpPort,
                StartTime = _startTime,
                IAmAliveTime = DateTimeOffset.UtcNow,
            };
            if (await _table.TryUpsertAsync(entry, snapshot.Version, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10 * (attempt + 1), 200)), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task LoopAsync(TimeSpan period, Func<CancellationToken, Task> action)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try
                {
                    await action(_stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    LogLoopFailed(_logger, ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Reads the table and updates the ring when the set of active silos changed.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            MembershipTableSnapshot snapshot;
            try
            {
                snapshot = await _table.ReadAllAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                _tableHealthySince = null;
                throw;
            }
            var now = DateTimeOffset.UtcNow;
            _tableHealthySince ??= now;
            // Heartbeats cannot be judged right after the table was unreachable: nobody could write them.
            var heartbeatsTrustworthy = now - _tableHealthySince.Value > _options.IAmAliveTimeout;
            foreach (var entry in snapshot.Entries)
            {
                if (entry.Silo == _local.Address && entry.Status == SiloStatus.Dead && !_stopping.IsCancellationRequested)
                {
                    LogDeclaredDead(_logger, _local.Address);
                    DeclaredDead?.Invoke();
                }
                if (heartbeatsTrustworthy && entry.Status == SiloStatus.Active && entry.Silo != _local.Address && now - entry.IAmAliveTime > _options.IAmAliveTimeout)
                {
                    await TryDeclareDeadAsync(entry.Silo, "stale heartbeat", cancellationToken).ConfigureAwait(false);
                }
            }
            _snapshot = snapshot;
            var active = new List<SiloAddress>();
            foreach (var entry in snapshot.Entries)
            {
                if (entry.Status == SiloStatus.Active)
                {
                    active.Add(entry.Silo);
                }
            }
            active.Sort(static (a, b) => string.CompareOrdinal(a.ToString(), b.ToString()));
            var current = _ring.Silos;
            if (!SameSilos(current, active))
            {
                var ring = new HashRing(active);
                _ring = ring;
                LogViewChanged(_logger, string.Join(", ", active));
                foreach (var silo in current)
                {
                    if (!active.Contains(silo))
                    {
                        _connections.Drop(silo);
                    }
                }
                RingChanged?.Invoke(ring);
            }
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private static bool SameSilos(IReadOnlyList<SiloAddress> a, List<SiloAddress> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }
        for (var i = 0; i < a.Count; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }
        return true;
    }

    private Task HeartbeatAsync(CancellationToken cancellationToken)
        => _table.UpdateIAmAliveAsync(_local.Address, DateTimeOffset.UtcNow, cancellationToken);

    private async Task ProbeAsync(CancellationToken cancellationToken)
    {
        var targets = ProbeTargets();
        var probes = new List<Task>(targets.Count);
        foreach (var target in targets)
        {
            probes.Add(ProbeOneAsync(target, cancellationToken));
        }
        await Task.WhenAll(probes).ConfigureAwait(false);
    }

    private List<SiloAddress> ProbeTargets()
    {
        var silos = _ring.Silos;
        var targets = new List<SiloAddress>();
        var self = -1;
        for (var i = 0; i < silos.Count; i++)
        {
            if (silos[i] == _local.Address)
            {
                self = i;
            }
        }
        for (var k = 1; k < silos.Count && targets.Count < _options.NumProbedSilos; k++)
        {
            targets.Add(silos[(Math.Max(self, 0) + k) % silos.Count]);
        }
        return targets;
    }

    private async Task ProbeOneAsync(SiloAddress target, CancellationToken cancellationToken)
    {
        var key = target.ToString();
        bool ok;
        try
        {
            ok = await PingAsync(target, _options.ProbeTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            ok = false;
        }
        if (ok)
        {
            _missedProbes.TryRemove(key, out _);
            return;
        }
        var missed = _missedProbes.AddOrUpdate(key, 1, static (_, n) => n + 1);
        LogProbeMissed(_logger, target, missed);
        if (missed >= _options.NumMissedProbesLimit)
        {
            _missedProbes.TryRemove(key, out _);
            await TryDeclareDeadAsync(target, $"{missed} missed probes", cancellationToken).ConfigureAwait(false);
            await RefreshAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends a ping and waits for the pong.</summary>
    public async Task<bool> PingAsync(SiloAddress target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _probeIds);
        var pong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probes[id] = pong;
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            var connection = await _connections.GetAsync(target, cts.Token).ConfigureAwait(false);
            await connection.SendAsync(new PingMessage(MessageKind.Ping, id, _local.Address.ToString())).ConfigureAwait(false);
            await pong.Task.WaitAsync(cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        finally
        {
            _probes.TryRemove(id, out _);
        }
    }

    public void OnPong(long id)
    {
        if (_probes.TryRemove(id, out var pong))
        {
            pong.TrySetResult();
        }
    }

    private async Task TryDeclareDeadAsync(SiloAddress silo, string why, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var snapshot = await _table.ReadAllAsync(cancellationToken).ConfigureAwait(false);
            MembershipEntry? entry = null;
            foreach (var e in snapshot.Entries)
            {
                if (e.Silo == silo)
                {
                    entry = e;
                }
            }
            if (entry is null || entry.Status == SiloStatus.Dead)
            {
                return;
            }
            if (await _table.TryUpsertAsync(entry with { Status = SiloStatus.Dead, SuspectedBy = [_local.Address.ToString()] }, snapshot.Version, cancellationToken).ConfigureAwait(false))
            {
                LogDeclaredOtherDead(_logger, silo, why);
                return;
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
        await StopLoopsAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _refreshLock.Dispose();
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Silo {Silo} joining the cluster")]
    private static partial void LogJoining(ILogger logger, SiloAddress silo);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Silo {Silo} is active")]
    private static partial void LogActive(ILogger logger, SiloAddress silo);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Silo {Silo} left the cluster")]
    private static partial void LogLeft(ILogger logger, SiloAddress silo);

    [LoggerMessage(EventId = 303, Level = LogLevel.Information, Message = "Active silos: {Silos}")]
    private static partial void LogViewChanged(ILogger logger, string silos);

    [LoggerMessage(EventId = 304, Level = LogLevel.Warning, Message = "Declared silo {Silo} dead: {Why}")]
    private static partial void LogDeclaredOtherDead(ILogger logger, SiloAddress silo, string why);

    [LoggerMessage(EventId = 305, Level = LogLevel.Critical, Message = "This silo {Silo} was declared dead by the cluster; stopping")]
    private static partial void LogDeclaredDead(ILogger logger, SiloAddress silo);

    [LoggerMessage(EventId = 306, Level = LogLevel.Debug, Message = "Probe of {Silo} missed ({Missed} in a row)")]
    private static partial void LogProbeMissed(ILogger logger, SiloAddress silo, int missed);

    [LoggerMessage(EventId = 307, Level = LogLevel.Warning, Message = "Membership loop failed: {Reason}")]
    private static partial void LogLoopFailed(ILogger logger, string reason);
}
