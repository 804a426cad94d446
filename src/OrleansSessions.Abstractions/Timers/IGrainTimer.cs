namespace OrleansSessions.Timers;

/// <summary>A grain timer. Ticks run as turns of the owning activation and never overlap.</summary>
public interface IGrainTimer : IDisposable
{
    /// <summary>Re-arms the timer: next tick after <paramref name="dueTime"/>, then every <paramref name="period"/> (<see cref="Timeout.InfiniteTimeSpan"/> for one tick).</summary>
    void Change(TimeSpan dueTime, TimeSpan period);
}
