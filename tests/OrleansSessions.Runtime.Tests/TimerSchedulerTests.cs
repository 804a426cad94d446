using OrleansSessions.Runtime.Timers;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Runtime.Tests;

public sealed class TimerSchedulerTests
{
    [Fact]
    public void One_scheduler_fires_a_million_timers_in_due_order_on_one_clock_timer()
    {
        var time = new ManualTimeProvider();
        using var scheduler = new TimerScheduler(time);
        var target = new CountingTarget();
        const int Count = 1_000_000;
        var start = time.GetUtcNow().UtcTicks;
        for (var i = 0; i < Count; i++)
        {
            // deadlines spread over 1000 seconds, scheduled out of order
            scheduler.Schedule(target, version: i, start + TimeSpan.TicksPerMillisecond * ((i * 7919L) % 1_000_000));
        }
        Assert.Equal(Count, scheduler.Count);
        Assert.Equal(1, time.ArmedTimerCount);
        time.Advance(TimeSpan.FromSeconds(500));
        Assert.InRange(target.Fired, Count / 2 - 1000, Count / 2 + 1000);
        time.Advance(TimeSpan.FromSeconds(500));
        Assert.Equal(Count, target.Fired);
        Assert.Equal(0, scheduler.Count);
        Assert.False(target.OutOfOrder);
    }

    private sealed class CountingTarget : ITimerTarget
    {
        private long _last = -1;

        public int Fired { get; private set; }

        public bool OutOfOrder { get; private set; }

        public void OnDue(long version)
        {
            var due = version * 7919L % 1_000_000;
            if (due < _last)
            {
                OutOfOrder = true;
            }
            _last = due;
            Fired++;
        }

        public bool IsCurrent(long version) => true;
    }

    [Fact]
    public void Stale_entries_are_dropped_once_they_are_most_of_the_queue_and_live_ones_still_fire()
    {
        var time = new ManualTimeProvider();
        using var scheduler = new TimerScheduler(time);
        var start = time.GetUtcNow().UtcTicks;
        var targets = new List<VersionedTarget>();
        for (var i = 0; i < 20_000; i++)
        {
            var target = new VersionedTarget();
            targets.Add(target);
            scheduler.Schedule(target, target.Version, start + TimeSpan.TicksPerHour);
        }
        // Three in four are stopped long before they are due (as the timers of an activation that goes away).
        for (var i = 0; i < targets.Count; i++)
        {
            if (i % 4 != 0)
            {
                targets[i].Stop();
                scheduler.NoteStale();
            }
        }
        Assert.Equal(20_000, scheduler.Count);

        // The next schedule finds them and drops them.
        var late = new VersionedTarget();
        scheduler.Schedule(late, late.Version, start + 2 * TimeSpan.TicksPerHour);
        Assert.Equal(5_001, scheduler.Count);

        time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(5_000, targets.Count(t => t.Fired == 1));
        Assert.All(targets.Where((_, i) => i % 4 != 0), t => Assert.Equal(0, t.Fired));
        Assert.Equal(1, late.Fired);
        Assert.Equal(0, scheduler.Count);
    }

    private sealed class VersionedTarget : ITimerTarget
    {
        public long Version { get; private set; } = 1;

        public int Fired { get; private set; }

        public void Stop() => Version++;

        public void OnDue(long version)
        {
            if (version == Version)
            {
                Fired++;
            }
        }

        public bool IsCurrent(long version) => version == Version;
    }
}
