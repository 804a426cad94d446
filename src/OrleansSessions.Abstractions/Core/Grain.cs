using OrleansSessions.Reminders;
using OrleansSessions.Timers;

namespace OrleansSessions;

/// <summary>
/// Base class of grain implementations. The runtime creates one instance per activation and runs its
/// methods one turn at a time, so grain code needs no locks.
/// </summary>
public abstract class Grain
{
    private IGrainContext? _context;

    /// <summary>Creates a grain bound to the activation under construction.</summary>
    protected Grain()
    {
        _context = GrainContextAccessor.Constructing;
    }

    /// <summary>Creates a grain bound to <paramref name="context"/>.</summary>
    protected Grain(IGrainContext context)
    {
        _context = context;
    }

    /// <summary>The runtime side of this activation.</summary>
    public IGrainContext GrainContext => _context ?? throw new InvalidOperationException("This grain was not created by the runtime.");

    /// <summary>Creates references to other grains.</summary>
    protected IGrainFactory GrainFactory => GrainContext.GrainFactory;

    /// <summary>The activation's services.</summary>
    protected IServiceProvider ServiceProvider => GrainContext.ActivationServices;

    /// <summary>Grain time.</summary>
    protected TimeProvider TimeProvider => GrainContext.TimeProvider;

    /// <summary>The grain's string key.</summary>
    public string GetPrimaryKeyString() => GrainContext.GrainId.Key;

    /// <summary>Runs as the first turn of a new activation.</summary>
    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs as the last turn of an activation; timers are already stopped.</summary>
    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Deactivates this activation once the current turn completes.</summary>
    protected void DeactivateOnIdle() => GrainContext.DeactivateOnIdle();

    /// <summary>Keeps this activation from idle collection for at least <paramref name="timeSpan"/>.</summary>
    protected void DelayDeactivation(TimeSpan timeSpan) => GrainContext.DelayDeactivation(timeSpan);

    /// <summary>Registers a timer whose ticks are turns of this activation; it stops when the activation deactivates.</summary>
    protected IGrainTimer RegisterGrainTimer<TState>(Func<TState, CancellationToken, Task> callback, TState state, GrainTimerCreationOptions options)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return GrainContext.RegisterGrainTimer(static (s, ct) =>
        {
            var (cb, st) = ((Func<TState, CancellationToken, Task>, TState))s!;
            return cb(st, ct);
        }, (callback, state), options);
    }

    /// <summary>Registers a timer whose ticks are turns of this activation; it stops when the activation deactivates.</summary>
    protected IGrainTimer RegisterGrainTimer(Func<CancellationToken, Task> callback, GrainTimerCreationOptions options)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return GrainContext.RegisterGrainTimer(static (s, ct) => ((Func<CancellationToken, Task>)s!)(ct), callback, options);
    }

    /// <summary>Registers or updates a durable reminder; it survives deactivation and silo failure.</summary>
    protected Task<IGrainReminder> RegisterOrUpdateReminder(string reminderName, TimeSpan dueTime, TimeSpan period)
        => GrainContext.Reminders.RegisterOrUpdateReminderAsync(reminderName, dueTime, period);

    /// <summary>Removes a durable reminder.</summary>
    protected Task UnregisterReminder(IGrainReminder reminder) => GrainContext.Reminders.UnregisterReminderAsync(reminder);

    /// <summary>Returns the named reminder, or null.</summary>
    protected Task<IGrainReminder?> GetReminder(string reminderName) => GrainContext.Reminders.GetReminderAsync(reminderName);

    internal void SetContext(IGrainContext context) => _context = context;
}
