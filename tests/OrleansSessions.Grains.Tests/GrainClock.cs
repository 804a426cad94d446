using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// The "Orleans.Grains" time provider of the test silos: the fake clock for the session domain's grains (their grain
/// timers), real time for Orleans' own grain timers (stream pulling agents poll on them, and must keep polling while a
/// test holds the fake clock still).
/// </summary>
internal sealed class GrainClock(FakeTimeProvider fake, IServiceProvider services) : TimeProvider
{
    private IGrainContextAccessor? _contexts;

    private static readonly GrainType[] DomainTypes = [GrainType.Create("session"), GrainType.Create("user-sessions"), GrainType.Create("janitor")];

    public override DateTimeOffset GetUtcNow() => IsDomainGrain() ? fake.GetUtcNow() : System.GetUtcNow();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        => IsDomainGrain() ? fake.CreateTimer(callback, state, dueTime, period) : System.CreateTimer(callback, state, dueTime, period);

    private bool IsDomainGrain()
    {
        // RuntimeContext.Current is internal; the public IGrainContextAccessor reads it, but needs the silo's DI to
        // resolve, and the timer registry resolves this provider while it is being built.
        var type = CurrentGrainType();
        return type is { } t && Array.IndexOf(DomainTypes, t) >= 0;
    }

    private GrainType? CurrentGrainType()
    {
        // The grain whose turn is running: a grain's timers are created in its own turns.
        _contexts ??= services.GetRequiredService<IGrainContextAccessor>();
        return _contexts.GrainContext?.GrainId.Type;
    }
}
