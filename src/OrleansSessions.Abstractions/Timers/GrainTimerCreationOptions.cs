namespace OrleansSessions.Timers;

/// <summary>Options of <see cref="Grain.RegisterGrainTimer(Func{CancellationToken, Task}, GrainTimerCreationOptions)"/>.</summary>
public readonly record struct GrainTimerCreationOptions
{
    /// <summary>Creates options with the given due time and period.</summary>
    public GrainTimerCreationOptions(TimeSpan dueTime, TimeSpan period)
    {
        DueTime = dueTime;
        Period = period;
    }

    /// <summary>Time until the first tick.</summary>
    public TimeSpan DueTime { get; init; }

    /// <summary>Time between ticks, measured from the end of a tick; <see cref="Timeout.InfiniteTimeSpan"/> for a single tick.</summary>
    public TimeSpan Period { get; init; }

    /// <summary>The tick may interleave with other turns (it is then not queued behind them).</summary>
    public bool Interleave { get; init; }

    /// <summary>A pending tick keeps the activation from idle collection.</summary>
    public bool KeepAlive { get; init; }
}
