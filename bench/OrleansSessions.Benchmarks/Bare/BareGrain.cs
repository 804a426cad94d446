using OrleansSessions.Grains;

namespace OrleansSessions.Benchmarks.Bare;

/// <summary>
/// The bare Orleans floor of the design brief: a no-op call, and a call that sets one field and writes it through the
/// grain storage the sessions use (<see cref="SessionStorage.Name"/>, Orleans' memory grain storage in the bench).
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
}
