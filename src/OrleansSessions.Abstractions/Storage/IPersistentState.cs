namespace OrleansSessions.Storage;

/// <summary>Durable state of a grain with optimistic concurrency through an ETag.</summary>
public interface IPersistentState<TState> where TState : new()
{
    /// <summary>The state; a new instance until a record is read.</summary>
    TState State { get; set; }

    /// <summary>The version of the stored record this state was read from or written as; null when none exists.</summary>
    string? Etag { get; }

    /// <summary>True when a stored record exists.</summary>
    bool RecordExists { get; }

    /// <summary>Reads the stored record, replacing <see cref="State"/>.</summary>
    Task ReadStateAsync(CancellationToken cancellationToken = default);

    /// <summary>Writes <see cref="State"/>. Throws <see cref="InconsistentStateException"/> when the stored record changed since it was read.</summary>
    Task WriteStateAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes the stored record. Throws <see cref="InconsistentStateException"/> on an ETag mismatch.</summary>
    Task ClearStateAsync(CancellationToken cancellationToken = default);
}
