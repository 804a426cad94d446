using Orleans.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Storage;

/// <summary>
/// A grain storage whose backend's failures leave it as <see cref="SessionStorageUnavailableException"/>: the backend
/// says which of its exceptions are failures (<c>translate</c> returns the replacement, or null for an exception that
/// passes as it is). <see cref="InconsistentStateException"/> always passes as it is: a conflict is not an outage.
/// </summary>
/// <remarks>
/// A state read that fails while a grain activates runs outside any grain call filter, and Orleans sends the activation
/// failure to the caller; replacing the driver's exception here is what makes it classifiable there.
/// </remarks>
internal sealed class StorageFailureGrainStorage(IGrainStorage inner, Func<Exception, SessionStorageUnavailableException?> translate)
    : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable, IDisposable
{
    /// <summary>The storage decorated.</summary>
    internal IGrainStorage Inner => inner;

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.ReadStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
        }
        catch (Exception exception) when (Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.WriteStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
        }
        catch (Exception exception) when (Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.ClearStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
        }
        catch (Exception exception) when (Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    // Orleans' providers connect in the silo lifecycle (Init); the decorator is what the lifecycle resolves.
    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);

    public ValueTask DisposeAsync()
    {
        if (inner is IAsyncDisposable asyncDisposable)
        {
            return asyncDisposable.DisposeAsync();
        }
        (inner as IDisposable)?.Dispose();
        return ValueTask.CompletedTask;
    }

    public void Dispose() => (inner as IDisposable)?.Dispose();

    private SessionStorageUnavailableException? Translate(Exception exception)
        => exception is InconsistentStateException or SessionStorageUnavailableException ? null : translate(exception);
}
