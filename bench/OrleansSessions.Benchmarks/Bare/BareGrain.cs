using OrleansSessions.Grains;

namespace OrleansSessions.Benchmarks.Bare;

/// <summary>
/// The bare Orleans floor of the design brief: a no-op call, and a call that sets one field and writes it through the
/// grain storage the sessions use (<see cref="SessionStorage.Name"/>, Orleans' memory grain storage in the bench); and
/// the floors of a create (two new activations, two writes) and of a dormant session's end (activate a stored grain,
/// read, write, deactivate).
/// </summary>
[Alias("OrleansSessions.Benchmarks.IBareGrain")]
public interface IBareGrain : IGrainWithStringKey
{
    /// <summary>Does nothing and returns 0.</summary>
    [Alias("Ping")]
    Task<int> PingAsync();

    /// <summary>Sets one field (the time of the call) and awaits WriteStateAsync.</summary>
    [Alias("Write")]
    Task<int> WriteAsync();

    /// <summary>
    /// Sets one field, awaits WriteStateAsync, then calls <paramref name="other"/>'s <see cref="WriteAsync"/>: on two
    /// new grains, two activations (each reading its missing state) and two writes, the bare floor of a create.
    /// </summary>
    [Alias("WriteAndCall")]
    Task<int> WriteAndCallAsync(string other);

    /// <summary>
    /// Sets one field, awaits WriteStateAsync and deactivates when idle (DeactivateOnIdle): called on a stored grain that
    /// is not activated, an activation, a state read, a write and a deactivation, the bare floor of a dormant end.
    /// </summary>
    [Alias("WriteAndDeactivate")]
    Task<int> WriteAndDeactivateAsync();
}

/// <summary>The state of <see cref="BareGrain"/>: one field.</summary>
[GenerateSerializer, Alias("OrleansSessions.Benchmarks.BareState")]
public sealed class BareState
{
    [Id(0)]
    public DateTimeOffset LastActivity { get; set; }
}

[GrainType("bench-bare")]
internal sealed class BareGrain([PersistentState("bare", SessionStorage.Name)] IPersistentState<BareState> state) : Grain, IBareGrain
{
    public Task<int> PingAsync() => Task.FromResult(0);

    public async Task<int> WriteAsync()
    {
        state.State.LastActivity = DateTimeOffset.UtcNow;
        await state.WriteStateAsync();
        return 0;
    }

    public async Task<int> WriteAndCallAsync(string other)
    {
        state.State.LastActivity = DateTimeOffset.UtcNow;
        await state.WriteStateAsync();
        return await GrainFactory.GetGrain<IBareGrain>(other).WriteAsync();
    }

    public async Task<int> WriteAndDeactivateAsync()
    {
        state.State.LastActivity = DateTimeOffset.UtcNow;
        await state.WriteStateAsync();
        DeactivateOnIdle();
        return 0;
    }
}
