namespace OrleansSessions.Storage;

/// <summary>A grain state record as held by a storage provider.</summary>
public sealed class GrainStateRecord
{
    /// <summary>The serialized state, or null when no record exists.</summary>
    public byte[]? Data { get; set; }

    /// <summary>The record's version; null when no record exists.</summary>
    public string? ETag { get; set; }
}

/// <summary>A storage provider for grain state. Implementations compare ETags atomically.</summary>
public interface IGrainStorage
{
    /// <summary>Reads a record; returns a record with null data when none exists.</summary>
    Task<GrainStateRecord> ReadAsync(string stateName, GrainId grainId, CancellationToken cancellationToken);

    /// <summary>Writes a record if the stored ETag equals <paramref name="expectedETag"/> (null: no record may exist) and returns the new ETag; otherwise throws <see cref="InconsistentStateException"/>.</summary>
    Task<string> WriteAsync(string stateName, GrainId grainId, byte[] data, string? expectedETag, CancellationToken cancellationToken);

    /// <summary>Deletes a record under the same ETag rule as <see cref="WriteAsync"/>.</summary>
    Task ClearAsync(string stateName, GrainId grainId, string? expectedETag, CancellationToken cancellationToken);
}

/// <summary>
/// A storage provider that completes writes synchronously and copies the bytes it is given (an in-process provider).
/// Grain state writes through it without allocating: the state is serialized into a reused buffer and copied in.
/// </summary>
public interface ISynchronousGrainStorage : IGrainStorage
{
    /// <summary>
    /// Writes a record if the stored ETag equals <paramref name="expectedETag"/> (null: no record may exist) and returns
    /// the new ETag; otherwise throws <see cref="InconsistentStateException"/>. <paramref name="data"/> is copied.
    /// </summary>
    string Write(string stateName, GrainId grainId, ReadOnlySpan<byte> data, string? expectedETag);
}
