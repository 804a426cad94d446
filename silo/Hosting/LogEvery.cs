namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// Counts events that come once per connection from outside and says when a log line about them is due: at most one
/// per <see cref="Interval"/>, carrying the count since the last line, so that a flood writes a line, not a line per
/// connection. Thread-safe.
/// </summary>
internal sealed class LogEvery(TimeSpan interval, TimeProvider time)
{
    private long _sinceLog;
    private long _lastLogTicks = long.MinValue;

    public TimeSpan Interval { get; } = interval;

    /// <summary>Counts one event; true when a line is due now, with <paramref name="count"/> the events since the last line.</summary>
    public bool Count(out long count)
    {
        Interlocked.Increment(ref _sinceLog);
        count = 0;
        var now = time.GetTimestamp();
        var last = Interlocked.Read(ref _lastLogTicks);
        if (last != long.MinValue && time.GetElapsedTime(last, now) < Interval)
        {
            return false;
        }
        // One caller wins the line; the others' events are counted into it or the next.
        if (Interlocked.CompareExchange(ref _lastLogTicks, now, last) != last)
        {
            return false;
        }
        count = Interlocked.Exchange(ref _sinceLog, 0);
        return true;
    }
}
