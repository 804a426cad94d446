using System.Collections.Concurrent;
using System.Globalization;
using OrleansSessions.Storage;

namespace OrleansSessions.Runtime.Storage;

/// <summary>Grain state in process memory (the embedded default; shared by the silos of a TestCluster). Not durable.</summary>
public sealed class MemoryGrainStorage : IGrainStorage
{
    private readonly ConcurrentDictionary<(string, GrainId), (byte[] Data, long Version)> _records = new();

    /// <summary>The number of stored records.</summary>
    public int Count => _records.Count;

    /// <inheritdoc />
    public Task<GrainStateRecord> ReadAsync(string stateName, GrainId grainId, CancellationToken cancellationToken)
    {
        var record = _records.TryGetValue((stateName, grainId), out var stored)
            ? new GrainStateRecord { Data = stored.Data, ETag = stored.Version.ToString(CultureInfo.InvariantCulture) }
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
                var storedTag = stored.Version.ToString(CultureInfo.InvariantCulture);
                if (!string.Equals(storedTag, expectedETag, StringComparison.Ordinal))
                {
                    throw new InconsistentStateException(storedTag, expectedETag);
                }
                var next = (data, stored.Version + 1);
                if (_records.TryUpdate(key, next, stored))
                {
                    return Task.FromResult(next.Item2.ToString(CultureInfo.InvariantCulture));
                }
            }
            else
            {
                if (expectedETag is not null)
                {
                    throw new InconsistentStateException(null, expectedETag);
                }
                if (_records.TryAdd(key, (data, 1)))
                {
                    return Task.FromResult("1");
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
        var storedTag = stored.Version.ToString(CultureInfo.InvariantCulture);
        if (!string.Equals(storedTag, expectedETag, StringComparison.Ordinal) || !_records.TryRemove(new KeyValuePair<(string, GrainId), (byte[], long)>(key, stored)))
        {
            throw new InconsistentStateException(storedTag, expectedETag);
        }
        return Task.CompletedTask;
    }
}
