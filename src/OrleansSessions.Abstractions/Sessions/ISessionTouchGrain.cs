using Orleans.Concurrency;

namespace OrleansSessions.Sessions;

/// <summary>
/// Touches many sessions in one call: a stateless worker on the silo that receives the call, which calls
/// <see cref="ISessionGrain.TouchAsync"/> on each session and returns each session's own answer. Callers use
/// <c>SessionToucher</c> (OrleansSessions.Client), which coalesces concurrent touches into these calls; the answers
/// are those of the single-session touch, one per id, in order.
/// </summary>
[Alias("OrleansSessions.ISessionTouchGrain")]
public interface ISessionTouchGrain : IGrainWithIntegerKey
{
    /// <summary>The most session ids one call may carry.</summary>
    const int MaxSessions = 4_096;

    /// <summary>Touches every session of <paramref name="sessionIds"/> at once; result <c>i</c> is the answer for id <c>i</c>.</summary>
    /// <exception cref="ArgumentException">More than <see cref="MaxSessions"/> ids, or none.</exception>
    [Alias("TouchMany")]
    ValueTask<Immutable<SessionTouchResult[]>> TouchManyAsync(Immutable<string[]> sessionIds);
}

/// <summary>
/// The answer of one session in <see cref="ISessionTouchGrain.TouchManyAsync"/>: the session after the touch, or the
/// exception its own touch threw (<see cref="SessionExpiredException"/>, <see cref="SessionClosedException"/>,
/// <see cref="SessionNotFoundException"/>, <see cref="ArgumentException"/> for a malformed id, or a storage failure).
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionTouchResult")]
public readonly record struct SessionTouchResult
{
    /// <summary>The session after the touch; null when <see cref="Failure"/> is set.</summary>
    [Id(0)]
    public SessionInfo? Session { get; init; }

    /// <summary>What the touch threw; null when it succeeded.</summary>
    [Id(1)]
    public Exception? Failure { get; init; }
}
