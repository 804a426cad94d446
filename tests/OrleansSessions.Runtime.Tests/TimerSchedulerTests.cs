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
    }
}
