namespace OrleansSessions.PostgreSql;

internal enum StateOperationKind
{
    Read,
    Write,
    Delete,
}

/// <summary>
/// One read, write or delete of a state row, completed by the grain storage's group commit after its group's commit:
/// <see cref="Version"/> is the row's version after the operation (read: as stored) when the row matched, null when
/// it did not (no row, or the ETag condition failed).
/// </summary>
internal sealed class StateOperation(StateOperationKind kind, string stateName, string grainId, byte[]? payload, int? expectedVersion)
    : GroupCommitOperation<(string StateName, string GrainId)>
{
    public StateOperationKind Kind { get; } = kind;

    public string StateName { get; } = stateName;

    public string GrainId { get; } = grainId;

    public override (string StateName, string GrainId) Row => (StateName, GrainId);

    /// <summary>What a write stores.</summary>
    public byte[]? Payload { get; } = payload;

    /// <summary>The version a write or delete expects (the caller's ETag); null for a write: insert only if no row exists.</summary>
    public int? ExpectedVersion { get; } = expectedVersion;

    public int? Version { get; set; }

    /// <summary>What a read found.</summary>
    public byte[]? StoredPayload { get; set; }
}
