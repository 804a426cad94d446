using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Silos;

namespace OrleansSessions.Grains.Silos;

/// <summary>
/// Samples <see cref="SessionMetrics"/> every <see cref="SessionHistorySample.Interval"/> into a
/// <see cref="RingBuffer{T}"/> of <see cref="SessionHistorySample.Capacity"/> samples, one per interval slot.
/// </summary>
internal sealed class SessionHistoryRecorder(SessionMetrics metrics, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly RingBuffer<SessionHistorySample> _ring = new(SessionHistorySample.Capacity);
    private readonly long[] _lagBefore = new long[ExpiryLagBuckets.Count];
    private readonly long[] _lagNow = new long[ExpiryLagBuckets.Count];
    private long _createdBefore;
    private long _endedBefore;

    /// <summary>The samples kept, oldest first.</summary>
    public SessionHistorySample[] Samples()
    {
        lock (_lock)
        {
            return _ring.ToArray();
        }
    }

    /// <summary>Samples on every tick until <paramref name="stopping"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        _createdBefore = metrics.Created;
        _endedBefore = metrics.Ended;
        metrics.ExpiryLagCounts.CopyTo(_lagBefore);
        using var timer = new PeriodicTimer(SessionHistorySample.Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                Sample();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>Takes one sample now (the timer's tick).</summary>
    internal void Sample()
    {
        var intervalMs = (long)SessionHistorySample.Interval.TotalMilliseconds;
        var slot = (time.GetUtcNow().ToUnixTimeMilliseconds() + intervalMs / 2) / intervalMs * intervalMs;
        var created = metrics.Created;
        var ended = metrics.Ended;
        metrics.ExpiryLagCounts.CopyTo(_lagNow);
        var buckets = new List<int>();
        var counts = new List<long>();
        for (var i = 0; i < _lagNow.Length; i++)
        {
            if (_lagNow[i] != _lagBefore[i])
            {
                buckets.Add(i);
                counts.Add(_lagNow[i] - _lagBefore[i]);
            }
        }
        var sample = new SessionHistorySample(slot, created - ended, created - _createdBefore, ended - _endedBefore, [.. buckets], [.. counts]);
        _createdBefore = created;
        _endedBefore = ended;
        _lagNow.CopyTo(_lagBefore, 0);
        lock (_lock)
        {
            if (_ring.Count > 0 && _ring[_ring.Count - 1] is { } last && last.Slot == slot)
            {
                // A late tick rounded to the slot of the one before: one sample per slot.
                _ring.ReplaceLast(Combine(last, sample));
                return;
            }
            _ring.Add(sample);
        }
    }

    private static SessionHistorySample Combine(SessionHistorySample earlier, SessionHistorySample later)
    {
        var lags = new SortedDictionary<int, long>();
        foreach (var sample in new[] { earlier, later })
        {
            for (var i = 0; i < sample.LagBuckets.Length; i++)
            {
                lags[sample.LagBuckets[i]] = lags.GetValueOrDefault(sample.LagBuckets[i]) + sample.LagCounts[i];
            }
        }
        return new SessionHistorySample(later.Slot, later.Live, earlier.Created + later.Created, earlier.Ended + later.Ended, [.. lags.Keys], [.. lags.Values]);
    }
}
