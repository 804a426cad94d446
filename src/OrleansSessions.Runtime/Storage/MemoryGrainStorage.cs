using System.Collections.Concurrent;
using System.Globalization;
using OrleansSessions.Storage;

namespace OrleansSessions.Runtime.Storage;

/// <summary>Grain state in process memory (the embedded default; shared by the silos of a TestCluster). Not durable.</summary>
public sealed class MemoryGrainStorage : IGrainStorage
{
    private readonly ConcurrentDictionary<(string, GrainId), StoredRecord> _records = new();

    /// <summary>The number of stored records.</summary>
    public int Count => _records.Count;

    /// <inheritdoc />
    public Task<GrainStateRecord> ReadAsync(string stateName, GrainId grainId, CancellationToken cancellationToken)
    {
        var record = _records.TryGetValue((stateName, grainId), out var stored)
            ? new GrainStateRecord { Data = stored.Data, ETag = stored.ETag }
            : new GrainStateRecord();
        return Task.FromResult(record);
    }

    /// <inheritdoc />
    public Task<string> WriteAsync(string stateName, GrainId grainId, byte[] data, string? expectedETag, CancellationToken cancellationToken)
    {
        var key = (stateName, grainId);
        while (true)
        {
            if (_records.TryGetValue(key, out var stored))
            {
                if (!string.Equals(stored.ETag, expectedETag, StringComparison.Ordinal))
                {
                    throw new InconsistentStateException(stored.ETag, expectedETag);
                }
                var next = new StoredRecord(data, stored.Version + 1);
                if (_records.TryUpdate(key, next, stored))
                {
                    return Task.FromResult(next.ETag);
                }
            }
            else
            {
                if (expectedETag is not null)
                {
                    throw new InconsistentStateException(null, expectedETag);
                }
                var first = new StoredRecord(data, 1);
                if (_records.TryAdd(key, first))
                {
                    return Task.FromResult(first.ETag);
                }
            }
        }
    }

    /// <inheritdoc />
    public Task ClearAsync(string stateName, GrainId grainId, string? expectedETag, CancellationToken cancellationToken)
    {
        var key = (stateName, grainId);
        if (!_records.TryGetValue(key, out var stored))
        {
            return expectedETag is null ? Task.CompletedTask : throw new InconsistentStateException(null, expectedETag);
        }
        if (!string.Equals(stored.ETag, expectedETag, StringComparison.Ordinal) || !_records.TryRemove(new KeyValuePair<(string, GrainId), StoredRecord>(key, stored)))
        {
            throw new InconsistentStateException(stored.ETag, expectedETag);
        }
        return Task.CompletedTask;
    }

    private sealed class StoredRecord(byte[] data, long version)
    {
        public byte[] Data { get; } = data;

        public long Version { get; } = version;

        public string ETag { get; } = version.ToString(CultureInfo.InvariantCulture);
    }
}
