using System.Collections.Concurrent;
using System.Globalization;
using OrleansSessions.Storage;

namespace OrleansSessions.Runtime.Storage;

/// <summary>
/// Grain state in process memory (the embedded default; shared by the silos of a TestCluster). Not durable.
/// </summary>
/// <remarks>
/// A record is updated in place under its own lock: a write copies the new bytes into the record's buffer (reused
/// while it fits) and bumps the version, so the hot path (a session touch) allocates nothing and writes no object
/// reference into old memory. Reads copy the bytes out. ETags are the decimal version; those of the first versions
/// are shared by all records.
/// </remarks>
public sealed class MemoryGrainStorage : ISynchronousGrainStorage
{
    private const int SharedVersions = 16_384;
    private static readonly Task<string>?[] SharedETags = new Task<string>?[SharedVersions];

    private readonly ConcurrentDictionary<(string, GrainId), Record> _records = new();

    /// <summary>The number of stored records.</summary>
    public int Count => _records.Count;

    /// <inheritdoc />
    public Task<GrainStateRecord> ReadAsync(string stateName, GrainId grainId, CancellationToken cancellationToken)
    {
        if (_records.TryGetValue((stateName, grainId), out var record))
        {
            lock (record)
            {
                if (record.Version != 0)
                {
                    return Task.FromResult(new GrainStateRecord { Data = record.Data.AsSpan(0, record.Length).ToArray(), ETag = ETagOf(record.Version) });
                }
            }
        }
        return Task.FromResult(new GrainStateRecord());
    }

    /// <inheritdoc />
    public Task<string> WriteAsync(string stateName, GrainId grainId, byte[] data, string? expectedETag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        try
        {
            return ETagTaskOf(WriteCore(stateName, grainId, data, expectedETag));
        }
        catch (InconsistentStateException exception)
        {
            return Task.FromException<string>(exception);
        }
    }

    /// <inheritdoc />
    public string Write(string stateName, GrainId grainId, ReadOnlySpan<byte> data, string? expectedETag)
        => ETagOf(WriteCore(stateName, grainId, data, expectedETag));

    /// <inheritdoc />
    public Task ClearAsync(string stateName, GrainId grainId, string? expectedETag, CancellationToken cancellationToken)
    {
        var key = (stateName, grainId);
        if (!_records.TryGetValue(key, out var record))
        {
            return expectedETag is null ? Task.CompletedTask : Task.FromException(new InconsistentStateException(null, expectedETag));
        }
        lock (record)
        {
            if (record.Version == 0)
            {
                return expectedETag is null ? Task.CompletedTask : Task.FromException(new InconsistentStateException(null, expectedETag));
            }
            if (!Matches(record.Version, expectedETag))
            {
                return Task.FromException(new InconsistentStateException(ETagOf(record.Version), expectedETag));
            }
            // Marked deleted under the lock: a writer that found it before the removal retries and sees no record.
            record.Version = 0;
            _records.TryRemove(new KeyValuePair<(string, GrainId), Record>(key, record));
        }
        return Task.CompletedTask;
    }

    private long WriteCore(string stateName, GrainId grainId, ReadOnlySpan<byte> data, string? expectedETag)
    {
        var key = (stateName, grainId);
        while (true)
        {
            if (_records.TryGetValue(key, out var record))
            {
                lock (record)
                {
                    if (record.Version != 0)
                    {
                        if (!Matches(record.Version, expectedETag))
                        {
                            throw new InconsistentStateException(ETagOf(record.Version), expectedETag);
                        }
                        record.Store(data);
                        return ++record.Version;
                    }
                }
                // Deleted meanwhile: look again.
                continue;
            }
            if (expectedETag is not null)
            {
                throw new InconsistentStateException(null, expectedETag);
            }
            var first = new Record(data.ToArray());
            if (_records.TryAdd(key, first))
            {
                return first.Version;
            }
        }
    }

    /// <summary>Whether <paramref name="etag"/> is the ETag of <paramref name="version"/>, without formatting one.</summary>
    private static bool Matches(long version, string? etag)
    {
        if (etag is null)
        {
            return false;
        }
        if (version < SharedVersions)
        {
            return string.Equals(ETagOf(version), etag, StringComparison.Ordinal);
        }
        // The decimal form has no sign, no leading zero and no spaces: parsing it back must give the same text.
        return etag.Length > 0 && etag[0] != '0'
            && long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)
            && parsed == version;
    }

    private static string ETagOf(long version)
        => version < SharedVersions ? ETagTaskOf(version).Result : version.ToString(CultureInfo.InvariantCulture);

    private static Task<string> ETagTaskOf(long version)
    {
        if (version < SharedVersions)
        {
            return SharedETags[version] ??= Task.FromResult(version.ToString(CultureInfo.InvariantCulture));
        }
        return Task.FromResult(version.ToString(CultureInfo.InvariantCulture));
    }

    private sealed class Record(byte[] data)
    {
        public byte[] Data = data;

        public int Length = data.Length;

        /// <summary>The current version, from 1; 0 once the record was deleted.</summary>
        public long Version = 1;

        public void Store(ReadOnlySpan<byte> data)
        {
            // Reuse the buffer while the state fits and does not shrink far below it.
            if (data.Length > Data.Length || Data.Length > 2 * data.Length + 256)
            {
                Data = new byte[data.Length];
            }
            data.CopyTo(Data);
            Length = data.Length;
        }
    }
}
