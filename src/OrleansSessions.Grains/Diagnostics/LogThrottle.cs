namespace OrleansSessions.Grains.Diagnostics;

/// <summary>
/// Lets one occurrence of a repeating warning through per interval and counts the ones held back. For failures that
/// repeat once per session: a stream queue that is full refuses the event of every session that ends while it is, and
/// a silo ending thousands of sessions a second would otherwise write a stack trace for each.
/// </summary>
internal sealed class LogThrottle
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Lock _gate = new();
    private DateTimeOffset _next = DateTimeOffset.MinValue;
    private long _heldBack;

    public LogThrottle(TimeProvider time, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _time = time;
        _interval = interval;
    }

    /// <summary>The least time between two occurrences that are logged.</summary>
    public TimeSpan Interval => _interval;

    /// <summary>
    /// True when this occurrence is to be logged: the first one, and the first one once <see cref="Interval"/> has
    /// passed since the last logged one. <paramref name="heldBack"/> is then how many were not logged in between.
    /// </summary>
    public bool TryLog(out long heldBack)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (now < _next)
            {
                _heldBack++;
                heldBack = 0;
                return false;
            }
            _next = now + _interval;
            heldBack = _heldBack;
            _heldBack = 0;
            return true;
        }
    }
}
