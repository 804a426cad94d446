namespace OrleansSessions.Runtime.Catalog;

/// <summary>One turn of an activation: a request, a timer tick, activation or deactivation.</summary>
internal abstract class WorkItem
{
    /// <summary>The call chain this turn belongs to; a request of the same chain may enter while this turn awaits.</summary>
    public long ChainId { get; init; }

    /// <summary>Runs regardless of other turns (read-only methods, interleaving timers).</summary>
    public virtual bool AlwaysInterleave => false;

    /// <summary>Runs the turn on <paramref name="activation"/>.</summary>
    public abstract ValueTask ExecuteAsync(ActivationData activation);

    /// <summary>The activation went away before this ran: deliver the work elsewhere (a new activation or another silo).</summary>
    public abstract void Reject(ActivationData activation);

    /// <summary>The work cannot run at all (for example, activation failed).</summary>
    public abstract void Fail(Exception exception);
}
