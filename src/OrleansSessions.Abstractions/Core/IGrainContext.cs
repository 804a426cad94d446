using OrleansSessions.Events;
using OrleansSessions.Reminders;
using OrleansSessions.Timers;

namespace OrleansSessions;

/// <summary>The runtime side of one activation, as seen by its grain.</summary>
public interface IGrainContext
{
    /// <summary>The identity of the activation's grain.</summary>
    GrainId GrainId { get; }

    /// <summary>Creates references to other grains; calls made through it carry this activation's call chain.</summary>
    IGrainFactory GrainFactory { get; }

    /// <summary>The silo's services.</summary>
    IServiceProvider ActivationServices { get; }

    /// <summary>Grain time: the clock that grain logic must use (a manual clock in tests).</summary>
    TimeProvider TimeProvider { get; }

    /// <summary>Publishes events to subscribers anywhere in the cluster.</summary>
    IEventPublisher Events { get; }

    /// <summary>Durable reminders of this grain.</summary>
    IReminderRegistry Reminders { get; }

    /// <summary>Deactivates the activation once the current turn completes.</summary>
    void DeactivateOnIdle();

    /// <summary>Keeps the activation from idle collection for at least <paramref name="timeSpan"/>.</summary>
    void DelayDeactivation(TimeSpan timeSpan);

    /// <summary>Registers a grain timer whose ticks are turns of this activation.</summary>
    IGrainTimer RegisterGrainTimer(Func<object?, CancellationToken, Task> callback, object? state, GrainTimerCreationOptions options);
}
