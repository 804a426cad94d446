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
    private readonly SessionGrainReferences _sessions;

    public SessionTouchGrain(IGrainFactory grains) => _sessions = new SessionGrainReferences(grains);

    public async ValueTask<Immutable<SessionTouchResult[]>> TouchManyAsync(Immutable<string[]> sessionIds)
    {
        var ids = sessionIds.Value ?? throw new ArgumentNullException(nameof(sessionIds));
        if (ids.Length is 0 or > ISessionTouchGrain.MaxSessions)
        {
            throw new ArgumentException($"A batch carries 1 to {ISessionTouchGrain.MaxSessions} session ids (got {ids.Length}).", nameof(sessionIds));
        }

        // Every touch is sent before any answer is awaited, and the grain resumes once, when the last answer is in.
        var touches = new Task<SessionInfo>?[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            if (SessionKeys.IsValidSessionId(id))
            {
                touches[i] = _sessions.Get(id).TouchAsync().AsTask();
            }
        }
        try
        {
            await Task.WhenAll(touches.OfType<Task<SessionInfo>>());
        }
        catch (Exception)
        {
            // Each failure is returned in its session's place below.
        }

        var results = new SessionTouchResult[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            results[i] = touches[i] switch
            {
                null => new SessionTouchResult { Failure = new ArgumentException(SessionKeys.SessionIdRule, nameof(sessionIds)) },
                { IsCompletedSuccessfully: true } touch => new SessionTouchResult { Session = touch.Result },
                var touch => new SessionTouchResult { Failure = touch.Exception?.InnerException ?? new TaskCanceledException(touch) },
            };
        }
        return new Immutable<SessionTouchResult[]>(results);
    }
}
