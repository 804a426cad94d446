using System.Collections.Concurrent;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// Grain storage that every silo of an in-process test cluster shares, standing in for a database: a silo killed in a
/// test loses its activations, not stored state. (Orleans' memory grain storage keeps state in storage grains spread
/// over the silos, so killing one loses part of it.) ETags are checked as a durable provider checks them.
/// </summary>
internal sealed class SharedGrainStorage(SharedGrainStorage.Store store, Serializer serializer) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (store.ReadFault?.Invoke(stateName, grainId) is { } fault)
        {
            return Task.FromException(fault);
        }
        if (store.Records.TryGetValue((stateName, grainId), out var record))
        {
            grainState.State = serializer.Deserialize<T>(record.Data);
            grainState.ETag = record.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (store.WriteFault?.Invoke(stateName, grainId) is { } fault)
        {
            return Task.FromException(fault);
        }
        var etag = Guid.NewGuid().ToString("N");
        var data = serializer.SerializeToArray(grainState.State);
        lock (store.Records)
        {
            ThrowIfStale(stateName, grainId, grainState.ETag);
            store.Records[(stateName, grainId)] = new Record(data, etag);
        }
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        lock (store.Records)
        {
            ThrowIfStale(stateName, grainId, grainState.ETag);
            store.Records.TryRemove((stateName, grainId), out _);
        }
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
        return Task.CompletedTask;
    }

    private void ThrowIfStale(string stateName, GrainId grainId, string? etag)
    {
        var stored = store.Records.TryGetValue((stateName, grainId), out var record) ? record.ETag : null;
        if (!string.Equals(stored, etag, StringComparison.Ordinal))
        {
            throw new InconsistentStateException($"ETag mismatch for {stateName} of {grainId}", stored ?? "(none)", etag ?? "(none)");
        }
    }

    internal sealed record Record(byte[] Data, string ETag);

    /// <summary>The records of one test cluster.</summary>
    internal sealed class Store
    {
        public ConcurrentDictionary<(string StateName, GrainId GrainId), Record> Records { get; } = new();

        /// <summary>When set, a write for which it returns an exception fails with it and stores nothing (a crash or an outage between two writes).</summary>
        public Func<string, GrainId, Exception?>? WriteFault { get; set; }

        /// <summary>When set, a read for which it returns an exception fails with it (an outage while a grain activates).</summary>
        public Func<string, GrainId, Exception?>? ReadFault { get; set; }
    }
}
