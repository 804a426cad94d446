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
                if (!stored.HasETag(expectedETag))
                {
                    throw new InconsistentStateException(stored.ETag, expectedETag);
                }
                var next = new StoredRecord(data, stored.Version + 1);
                if (_records.TryUpdate(key, next, stored))
                {
                    return next.ETagTask;
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
                    return first.ETagTask;
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
        // Every record counts its versions from 1, so the ETags (and their completed write tasks) of the first
        // versions are the same for all records: shared, they cost no allocation on the write path.
        private const int SharedVersions = 16_384;
        private static readonly Task<string>?[] s_sharedETags = new Task<string>?[SharedVersions];

        public byte[] Data { get; } = data;

        public long Version { get; } = version;

        public string ETag => ETagTask.Result;

        /// <summary>Whether <paramref name="etag"/> is this record's ETag, without formatting one.</summary>
        public bool HasETag(string? etag)
        {
            if (etag is null)
            {
                return false;
            }
            if (Version < SharedVersions)
            {
                return string.Equals(ETag, etag, StringComparison.Ordinal);
            }
            // The decimal form has no sign, no leading zero and no spaces: parsing it back must give the same text.
            return etag.Length > 0 && etag[0] != '0'
                && long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
                && version == Version;
        }

        public Task<string> ETagTask
        {
            get
            {
                if (Version < SharedVersions)
                {
                    return s_sharedETags[Version] ??= Task.FromResult(Version.ToString(CultureInfo.InvariantCulture));
                }
                return Task.FromResult(Version.ToString(CultureInfo.InvariantCulture));
            }
        }
    }
}
