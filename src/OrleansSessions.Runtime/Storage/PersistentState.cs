using OrleansSessions.Runtime.Catalog;
using OrleansSessions.Serialization;
using OrleansSessions.Storage;

namespace OrleansSessions.Runtime.Storage;

/// <summary>
/// Grain state bound to one activation; read before OnActivateAsync. A write that meets a newer ETag
/// means another activation of the grain exists: this one deactivates itself and the write throws
/// <see cref="InconsistentStateException"/>.
/// </summary>
internal sealed class PersistentState<TState>(ActivationData activation, string stateName, IGrainStorage storage) : IPersistentState<TState>, IActivationParticipant
    where TState : new()
{
    public TState State { get; set; } = new();

    public string? Etag { get; private set; }

    public bool RecordExists { get; private set; }

    public Task OnActivateAsync(CancellationToken cancellationToken) => ReadStateAsync(cancellationToken);

    public async Task ReadStateAsync(CancellationToken cancellationToken = default)
    {
        var record = await storage.ReadAsync(stateName, activation.GrainId, cancellationToken).ConfigureAwait(false);
        if (record.Data is null)
        {
            State = new TState();
            Etag = null;
            RecordExists = false;
            return;
        }
        State = CodecRegistry.Deserialize<TState>(record.Data);
        Etag = record.ETag;
        RecordExists = true;
    }

    public Task WriteStateAsync(CancellationToken cancellationToken = default)
    {
        if (storage is ISynchronousGrainStorage synchronous)
        {
            // In-process storage copies the bytes: serialize into the thread's scratch buffer, allocate nothing.
            try
            {
                Etag = synchronous.Write(stateName, activation.GrainId, CodecRegistry.SerializeToScratch(State), Etag);
            }
            catch (InconsistentStateException ex)
            {
                activation.DeactivateOnIdle();
                return Task.FromException(ex);
            }
            RecordExists = true;
            return Task.CompletedTask;
        }
        var data = CodecRegistry.Serialize(State);
        Task<string> write;
        try
        {
            write = storage.WriteAsync(stateName, activation.GrainId, data, Etag, cancellationToken);
        }
        catch (InconsistentStateException ex)
        {
            activation.DeactivateOnIdle();
            return Task.FromException(ex);
        }
        if (write.IsCompletedSuccessfully)
        {
            // The in-memory provider completes synchronously: no state machine on the touch path.
            Etag = write.Result;
            RecordExists = true;
            return Task.CompletedTask;
        }
        return AwaitWriteAsync(write);
    }

    private async Task AwaitWriteAsync(Task<string> write)
    {
        try
        {
            Etag = await write.ConfigureAwait(false);
            RecordExists = true;
        }
        catch (InconsistentStateException)
        {
            activation.DeactivateOnIdle();
            throw;
        }
    }

    public async Task ClearStateAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await storage.ClearAsync(stateName, activation.GrainId, Etag, cancellationToken).ConfigureAwait(false);
        }
        catch (InconsistentStateException)
        {
            activation.DeactivateOnIdle();
            throw;
        }
        Etag = null;
        RecordExists = false;
        State = new TState();
    }
}

/// <summary>Creates persistent state for activations of this silo.</summary>
internal sealed class PersistentStateFactory(IGrainStorage storage) : IPersistentStateFactory
{
    public IPersistentState<TState> Create<TState>(IGrainContext context, string stateName) where TState : new()
    {
        ArgumentException.ThrowIfNullOrEmpty(stateName);
        if (context is not ActivationData activation)
        {
            throw new ArgumentException("The context must be a grain activation of this silo.", nameof(context));
        }
        var state = new PersistentState<TState>(activation, stateName, storage);
        activation.AddParticipant(state);
        return state;
    }
}
