using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansSessions.Grains.Diagnostics;

namespace OrleansSessions.AspNetCore.Dashboard;

/// <summary>
/// Samples this silo's <see cref="SessionMetrics"/> every <see cref="Interval"/> and keeps the last
/// <see cref="Capacity"/> samples (10 minutes) in a ring, so the dashboard's charts have a past when a page opens.
/// </summary>
/// <remarks>On an app that is only an Orleans client there are no session metrics here, and nothing is sampled.</remarks>
internal sealed class SessionHistoryRecorder(IServiceProvider services, TimeProvider time) : BackgroundService
{
    private readonly SessionMetrics? _metrics = services.GetService<SessionMetrics>();

    /// <summary>The sampling interval.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>The samples kept: 10 minutes.</summary>
    public const int Capacity = 300;

    private readonly Lock _lock = new();
    private readonly SessionHistorySample[] _ring = new SessionHistorySample[Capacity];
    private readonly long[] _lagBefore = new long[ExpiryLagHistogram.BucketCount];
    private readonly long[] _lagNow = new long[ExpiryLagHistogram.BucketCount];
    private int _next;
    private int _count;
    private long _createdBefore;
    private long _endedBefore;

    /// <summary>The samples kept, oldest first.</summary>
    public SessionHistorySample[] Samples()
    {
        lock (_lock)
        {
            var samples = new SessionHistorySample[_count];
            var start = (_next - _count + Capacity) % Capacity;
            for (var i = 0; i < _count; i++)
            {
                samples[i] = _ring[(start + i) % Capacity];
            }
            return samples;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_metrics is not { } metrics)
        {
            return;
        }
        _createdBefore = metrics.Created;
        _endedBefore = metrics.Ended;
        metrics.ExpiryLagCounts.CopyTo(_lagBefore);
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                Sample();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Takes one sample now (the timer's tick).</summary>
    internal void Sample()
    {
        if (_metrics is not { } metrics)
        {
            return;
        }
        var intervalMs = (long)Interval.TotalMilliseconds;
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
            var last = (_next - 1 + Capacity) % Capacity;
            if (_count > 0 && _ring[last].Slot == slot)
            {
                // A late tick rounded to the slot of the one before: one sample per slot.
                _ring[last] = Combine(_ring[last], sample);
                return;
            }
            _ring[_next] = sample;
            _next = (_next + 1) % Capacity;
            _count = Math.Min(_count + 1, Capacity);
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
