using System.Diagnostics.Metrics;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Diagnostics;

/// <summary>
/// The session domain's instruments on the "OrleansSessions" meter (from <see cref="IMeterFactory"/>): sessions.created,
/// sessions.ended (tag reason), sessions.live, sessions.expiring, sessions.events_failed, sessions.expiry_lag (ms),
/// sessions.activations, sessions.bulk_calls_in_flight, janitor.expired, and of session data (counts only, never contents)
/// sessions.data_writes, sessions.messages_appended and sessions.data_deleted. One instance per silo. The expiry lags are also counted in <see cref="ExpiryLagCounts"/>, which the
/// host reads for its own history of them.
/// </summary>
public sealed class SessionMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "OrleansSessions";

    private static readonly string[] ReasonTags = ["", "idle_timeout", "absolute_timeout", "logout", "logout_all", "evicted"];

    private readonly Counter<long> _created;
    private readonly Counter<long> _ended;
    private readonly UpDownCounter<long> _live;
    private readonly Counter<long> _expiring;
    private readonly Counter<long> _eventsFailed;
    private readonly Histogram<double> _expiryLag;
    private readonly Counter<long> _janitorExpired;
    private readonly Counter<long> _dataWrites;
    private readonly Counter<long> _messagesAppended;
    private readonly Counter<long> _dataDeleted;
    private readonly Counter<long> _dormant;
    private readonly Histogram<double> _janitorLag;
    private long _dormantTotal;
    private long _janitorQueued;
    private long _activeActivations;
    private long _createdTotal;
    private long _endedTotal;
    private long _eventsFailedTotal;
    private long _bulkCallsInFlight;
    private long _bulkCallsInFlightPeak;

    /// <summary>Creates the instruments on a meter of <paramref name="meterFactory"/>.</summary>
    public SessionMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _created = meter.CreateCounter<long>("sessions.created", description: "Sessions created.");
        _ended = meter.CreateCounter<long>("sessions.ended", description: "Sessions ended, by reason.");
        _live = meter.CreateUpDownCounter<long>("sessions.live", description: "Sessions created minus sessions ended (sum over silos is the cluster's live sessions).");
        _expiring = meter.CreateCounter<long>("sessions.expiring", description: "Expiry warnings published.");
        _eventsFailed = meter.CreateCounter<long>("sessions.events_failed", description: "Session events whose publish failed: not delivered to any subscriber.");
        _expiryLag = meter.CreateHistogram<double>("sessions.expiry_lag", unit: "ms", description: "Time from a session's deadline to its expiry being processed.");
        _janitorExpired = meter.CreateCounter<long>("janitor.expired", description: "Sessions expired by the janitor.");
        _dataWrites = meter.CreateCounter<long>("sessions.data_writes", description: "Attribute writes and appends stored.");
        _messagesAppended = meter.CreateCounter<long>("sessions.messages_appended", description: "Conversation messages appended.");
        _dataDeleted = meter.CreateCounter<long>("sessions.data_deleted", description: "Sessions whose stored data (attributes, conversation) was deleted at or after their end.");
        meter.CreateObservableGauge("sessions.bulk_calls_in_flight", () => Interlocked.Read(ref _bulkCallsInFlight), description: "Calls of bulk operations (close-all, eviction, refreshes, janitor sweeps) in flight on this silo.");
        _dormant = meter.CreateCounter<long>("sessions.dormant", description: "Live sessions that gave up their activation after Sessions:DormantAfter without a call.");
        _janitorLag = meter.CreateHistogram<double>("sessions.janitor_lag", unit: "ms", description: "How late a janitor partition's wake of a session reached its due point (tag point: warning or deadline).");
        meter.CreateObservableGauge("janitor.queued", () => Interlocked.Read(ref _janitorQueued), description: "Due points held in the queues of the janitor partitions on this silo.");
        meter.CreateObservableGauge("sessions.activations", () => Interlocked.Read(ref _activeActivations), description: "Activations of live sessions on this silo.");
    }

    /// <summary>Activations of live sessions on this silo right now.</summary>
    public long ActiveSessionActivations => Interlocked.Read(ref _activeActivations);

    /// <summary>Live sessions that went dormant on this silo since it started.</summary>
    public long Dormant => Interlocked.Read(ref _dormantTotal);

    /// <summary>Due points held in the queues of the janitor partitions on this silo right now.</summary>
    public long JanitorQueued => Interlocked.Read(ref _janitorQueued);

    /// <summary>Sessions created by this silo since it started.</summary>
    public long Created => Interlocked.Read(ref _createdTotal);

    /// <summary>Sessions ended by this silo since it started.</summary>
    public long Ended => Interlocked.Read(ref _endedTotal);

    /// <summary>Session events whose publish failed on this silo since it started (not delivered).</summary>
    public long EventsFailed => Interlocked.Read(ref _eventsFailedTotal);

    /// <summary>Calls of bulk operations (close-all, eviction, refreshes of a user's list, janitor sweeps) in flight on this silo now.</summary>
    public long BulkCallsInFlight => Interlocked.Read(ref _bulkCallsInFlight);

    /// <summary>The most <see cref="BulkCallsInFlight"/> this silo has seen since it started.</summary>
    public long BulkCallsInFlightPeak => Interlocked.Read(ref _bulkCallsInFlightPeak);

    /// <summary>The expiry lags recorded by this silo since it started, in buckets.</summary>
    public ExpiryLagHistogram ExpiryLagCounts { get; } = new();

    internal void SessionCreated()
    {
        Interlocked.Increment(ref _createdTotal);
        _created.Add(1);
        _live.Add(1);
    }

    internal void SessionEnded(EndReason reason)
    {
        Interlocked.Increment(ref _endedTotal);
        _ended.Add(1, new KeyValuePair<string, object?>("reason", ReasonName(reason)));
        _live.Add(-1);
    }

    internal void ExpiryLag(TimeSpan lag)
    {
        var milliseconds = Math.Max(0, lag.TotalMilliseconds);
        _expiryLag.Record(milliseconds);
        ExpiryLagCounts.Record(milliseconds);
    }

    internal void Expiring() => _expiring.Add(1);

    internal void WentDormant()
    {
        Interlocked.Increment(ref _dormantTotal);
        _dormant.Add(1);
    }

    internal void JanitorLag(TimeSpan lag, bool warning)
        => _janitorLag.Record(Math.Max(0, lag.TotalMilliseconds), new KeyValuePair<string, object?>("point", warning ? "warning" : "deadline"));

    internal void JanitorQueueChanged(long delta) => Interlocked.Add(ref _janitorQueued, delta);

    internal void EventFailed()
    {
        Interlocked.Increment(ref _eventsFailedTotal);
        _eventsFailed.Add(1);
    }

    internal void JanitorExpired(int count) => _janitorExpired.Add(count);

    internal void DataWritten() => _dataWrites.Add(1);

    internal void MessagesAppended(int count)
    {
        _dataWrites.Add(1);
        _messagesAppended.Add(count);
    }

    internal void DataDeleted() => _dataDeleted.Add(1);

    internal void BulkCallStarted()
    {
        var now = Interlocked.Increment(ref _bulkCallsInFlight);
        var peak = Interlocked.Read(ref _bulkCallsInFlightPeak);
        while (now > peak)
        {
            var seen = Interlocked.CompareExchange(ref _bulkCallsInFlightPeak, now, peak);
            if (seen == peak)
            {
                break;
            }
            peak = seen;
        }
    }

    internal void BulkCallFinished() => Interlocked.Decrement(ref _bulkCallsInFlight);

    internal void ActivationStarted() => Interlocked.Increment(ref _activeActivations);

    internal void ActivationStopped() => Interlocked.Decrement(ref _activeActivations);

    /// <summary>Converts an end reason to its wire name (idle_timeout, absolute_timeout, logout, logout_all, evicted).</summary>
    public static string ReasonName(EndReason reason)
    {
        var index = (int)reason;
        return index > 0 && index < ReasonTags.Length ? ReasonTags[index] : reason.ToString();
    }
}
