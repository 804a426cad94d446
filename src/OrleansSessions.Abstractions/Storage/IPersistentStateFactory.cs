namespace OrleansSessions.Storage;

/// <summary>Creates <see cref="IPersistentState{TState}"/> for an activation.</summary>
public interface IPersistentStateFactory
{
    /// <summary>Creates the named state of the activation; nothing is read until <see cref="IPersistentState{TState}.ReadStateAsync"/> or activation.</summary>
    IPersistentState<TState> Create<TState>(IGrainContext context, string stateName) where TState : new();
}
