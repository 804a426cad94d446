using Orleans.Concurrency;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// Touches a batch of sessions for one caller (<see cref="ISessionTouchGrain"/>). A stateless worker: it runs on the silo
/// that received the call, keeps nothing, and is reentrant, so one activation serves every batch in flight. Each
/// session is touched by its own grain call, exactly as a single touch, and its answer (or exception) is returned in
/// its place: the batch saves the caller a network round trip per session, not any of the session's own work.
/// </summary>
[GrainType("session-touch")]
[StatelessWorker]
[Reentrant]
internal sealed class SessionTouchGrain : Grain, ISessionTouchGrain
{
    public async ValueTask<Immutable<SessionTouchResult[]>> TouchManyAsync(Immutable<string[]> sessionIds)
    {
        var ids = sessionIds.Value ?? throw new ArgumentNullException(nameof(sessionIds));
        if (ids.Length is 0 or > ISessionTouchGrain.MaxSessions)
        {
            throw new ArgumentException($"A batch carries 1 to {ISessionTouchGrain.MaxSessions} session ids (got {ids.Length}).", nameof(sessionIds));
        }

        var results = new SessionTouchResult[ids.Length];
        var touches = new Task[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            touches[i] = SessionKeys.IsValidSessionId(id)
                ? TouchOneAsync(GrainFactory.GetGrain<ISessionGrain>(id), results, i)
                : Fail(results, i, new ArgumentException(SessionKeys.SessionIdRule, nameof(sessionIds)));
        }
        await Task.WhenAll(touches);
        return new Immutable<SessionTouchResult[]>(results);
    }

    private static Task Fail(SessionTouchResult[] results, int index, Exception failure)
    {
        results[index] = new SessionTouchResult { Failure = failure };
        return Task.CompletedTask;
    }

    private static async Task TouchOneAsync(ISessionGrain session, SessionTouchResult[] results, int index)
    {
        try
        {
            results[index] = new SessionTouchResult { Session = await session.TouchAsync() };
        }
        catch (Exception exception)
        {
            results[index] = new SessionTouchResult { Failure = exception };
        }
    }
}
