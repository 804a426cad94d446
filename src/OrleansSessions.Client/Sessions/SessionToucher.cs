using System.Collections.Concurrent;
using Orleans.Concurrency;

namespace OrleansSessions.Sessions;

/// <summary>
/// Touches sessions from an Orleans client or silo, coalescing concurrent touches: while a call is in flight, the
/// touches that arrive meanwhile wait and leave together in one <see cref="ISessionTouchGrain.TouchManyAsync"/> call
/// to the silo, which touches each session with its own grain call. A touch that finds nothing else waiting leaves
/// at once as a plain <see cref="ISessionGrain.TouchAsync"/>, so one caller alone sees the latency of a plain touch.
/// Each caller gets its own session's answer, exactly as <see cref="ISessionGrain.TouchAsync"/> would give it: the
/// session after the touch, or the same exception.
/// </summary>
/// <remarks>
/// Thread-safe; one instance per client is meant to be shared (the client's services hold one: see
/// <c>UseOrleansSessions</c>). There is no timer and no added delay: a batch is whatever queued while the previous
/// calls were on the wire, at most <see cref="SessionToucherOptions.MaxBatchSize"/> touches, with at most
/// <see cref="SessionToucherOptions.MaxCallsInFlight"/> calls in flight.
/// </remarks>
public sealed class SessionToucher
{
    private readonly IGrainFactory _grains;
    private readonly SessionGrainReferences _sessions;
    private readonly int _maxBatchSize;
    private readonly int _maxCallsInFlight;
    private readonly ConcurrentQueue<PendingTouch> _queue = new();
    private int _callsInFlight;
    private int _nextWorker = -1;

    /// <summary>A toucher with the default <see cref="SessionToucherOptions"/>.</summary>
    public SessionToucher(IGrainFactory grains)
        : this(grains, new SessionToucherOptions())
    {
    }

    /// <summary>A toucher with the given limits.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is out of range.</exception>
    public SessionToucher(IGrainFactory grains, SessionToucherOptions options)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchSize, 1, nameof(options.MaxBatchSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxBatchSize, ISessionTouchGrain.MaxSessions, nameof(options.MaxBatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxCallsInFlight, 1, nameof(options.MaxCallsInFlight));
        _grains = grains;
        _sessions = new SessionGrainReferences(grains);
        _maxBatchSize = options.MaxBatchSize;
        _maxCallsInFlight = options.MaxCallsInFlight;
    }

    /// <summary>Records activity on the session, sliding its idle deadline; see <see cref="ISessionGrain.TouchAsync"/>.</summary>
    /// <returns>The session after the touch.</returns>
    /// <exception cref="ArgumentException">The id is not a well-formed session id (thrown before anything is sent).</exception>
    /// <exception cref="SessionExpiredException">The session has expired.</exception>
    /// <exception cref="SessionClosedException">The session was closed.</exception>
    /// <exception cref="SessionNotFoundException">No such session.</exception>
    public Task<SessionInfo> TouchAsync(string sessionId)
    {
        SessionKeys.ThrowIfInvalidSessionId(sessionId);
        var touch = new PendingTouch(sessionId);
        _queue.Enqueue(touch);
        TryStartCall();
        return touch.Task;
    }

    private void TryStartCall()
    {
        while (!_queue.IsEmpty)
        {
            var inFlight = Volatile.Read(ref _callsInFlight);
            if (inFlight >= _maxCallsInFlight)
            {
                // A call in flight takes this touch with the next batch when it returns.
                return;
            }
            if (Interlocked.CompareExchange(ref _callsInFlight, inFlight + 1, inFlight) == inFlight)
            {
                _ = SendUntilEmptyAsync();
                return;
            }
        }
    }

    private async Task SendUntilEmptyAsync()
    {
        while (true)
        {
            var batch = Take();
            if (batch.Count == 0)
            {
                Interlocked.Decrement(ref _callsInFlight);
                // A touch queued between Take and the decrement saw every call slot taken: make sure one goes.
                TryStartCall();
                return;
            }
            if (batch.Count == 1)
            {
                await SendOneAsync(batch[0]).ConfigureAwait(false);
            }
            else
            {
                await SendBatchAsync(batch).ConfigureAwait(false);
            }
        }
    }

    private List<PendingTouch> Take()
    {
        var batch = new List<PendingTouch>(Math.Min(_maxBatchSize, Math.Max(1, _queue.Count)));
        while (batch.Count < _maxBatchSize && _queue.TryDequeue(out var touch))
        {
            batch.Add(touch);
        }
        return batch;
    }

    private async Task SendOneAsync(PendingTouch touch)
    {
        try
        {
            touch.TrySetResult(await _sessions.Get(touch.SessionId).TouchAsync().ConfigureAwait(false));
        }
        catch (Exception exception)
        {
            touch.TrySetException(exception);
        }
    }

    private async Task SendBatchAsync(List<PendingTouch> batch)
    {
        var ids = new string[batch.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = batch[i].SessionId;
        }
        SessionTouchResult[] results;
        try
        {
            // Keys 0..MaxCallsInFlight-1: the client spreads calls to different grain ids over its gateways.
            var worker = (int)((uint)Interlocked.Increment(ref _nextWorker) % (uint)_maxCallsInFlight);
            results = (await _grains.GetGrain<ISessionTouchGrain>(worker).TouchManyAsync(new Immutable<string[]>(ids)).ConfigureAwait(false)).Value;
            if (results is null || results.Length != ids.Length)
            {
                throw new InvalidOperationException($"The silo answered {results?.Length ?? 0} results for a batch of {ids.Length} touches.");
            }
        }
        catch (Exception exception)
        {
            // The call failed as a whole (silo unreachable, timeout): every touch in it fails with that exception.
            foreach (var touch in batch)
            {
                touch.TrySetException(exception);
            }
            return;
        }
        for (var i = 0; i < results.Length; i++)
        {
            var result = results[i];
            if (result.Failure is { } failure)
            {
                batch[i].TrySetException(failure);
            }
            else if (result.Session is { } session)
            {
                batch[i].TrySetResult(session);
            }
            else
            {
                batch[i].TrySetException(new InvalidOperationException($"The silo answered neither a session nor a failure for {batch[i].SessionId}."));
            }
        }
    }

    // Continuations run on the thread pool: a caller's code never runs on, or holds up, the loop that sends batches.
    private sealed class PendingTouch(string sessionId) : TaskCompletionSource<SessionInfo>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public string SessionId { get; } = sessionId;
    }
}

/// <summary>The limits of a <see cref="SessionToucher"/>.</summary>
public sealed class SessionToucherOptions
{
    /// <summary>The default of <see cref="MaxBatchSize"/>.</summary>
    public const int DefaultMaxBatchSize = 512;

    /// <summary>The default of <see cref="MaxCallsInFlight"/>.</summary>
    public const int DefaultMaxCallsInFlight = 4;

    /// <summary>The most touches one call carries (1 to <see cref="ISessionTouchGrain.MaxSessions"/>).</summary>
    public int MaxBatchSize { get; set; } = DefaultMaxBatchSize;

    /// <summary>The most calls in flight at once; touches beyond them queue for the next batch (at least 1).</summary>
    public int MaxCallsInFlight { get; set; } = DefaultMaxCallsInFlight;
}
