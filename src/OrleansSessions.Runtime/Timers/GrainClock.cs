namespace OrleansSessions.Runtime.Timers;

/// <summary>Grain time: the clock grains, grain timers and reminders use. Infrastructure (membership, transport) always uses real time.</summary>
public sealed class GrainClock(TimeProvider timeProvider)
{
    /// <summary>The grain time provider.</summary>
    public TimeProvider TimeProvider { get; } = timeProvider;
}
