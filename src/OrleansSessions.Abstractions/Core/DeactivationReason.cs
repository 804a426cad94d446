namespace OrleansSessions;

/// <summary>Why an activation is being deactivated.</summary>
public enum DeactivationReasonCode
{
    /// <summary>No reason given.</summary>
    None,
    /// <summary>The grain called DeactivateOnIdle.</summary>
    ApplicationRequested,
    /// <summary>The activation was idle for longer than the collection age.</summary>
    ActivationIdle,
    /// <summary>The silo is shutting down.</summary>
    ShuttingDown,
    /// <summary>Another silo now owns the grain (membership changed).</summary>
    OwnershipChanged,
    /// <summary>Activation failed.</summary>
    ActivationFailed,
    /// <summary>A write found that another activation holds newer state.</summary>
    DuplicateActivation,
}

/// <summary>The reason passed to <see cref="Grain.OnDeactivateAsync"/>.</summary>
public readonly record struct DeactivationReason(DeactivationReasonCode ReasonCode, string Description)
{
    /// <inheritdoc />
    public override string ToString() => $"{ReasonCode}: {Description}";
}
