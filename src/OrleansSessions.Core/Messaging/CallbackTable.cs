using System.Collections.Concurrent;

namespace OrleansSessions.Messaging;

/// <summary>
/// Calls waiting for responses, by correlation id, with timeouts. Every call gets the same timeout, so
/// deadlines arrive in registration order and a FIFO queue finds expired calls in O(1) each.
/// </summary>
internal sealed class CallbackTable : IDisposable
{
    private readonly ConcurrentDictionary<long, IPendingCall> _calls = new();
    private readonly ConcurrentQueue<(long Id, long Deadline)> _deadlines = new();
    private readonly TimeProvider _clock;
    private readonly TimeSpan _timeout;
    private readonly ITimer _timer;
    private long _nextId;

    public CallbackTable(TimeSpan timeout, TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        _timeout = timeout;
        var scan = TimeSpan.FromMilliseconds(Math.Clamp(timeout.TotalMilliseconds / 10, 10, 1000));
        _timer = _clock.CreateTimer(static s => ((CallbackTable)s!).ExpireOverdue(), this, scan, scan);
    }

    public int Count => _calls.Count;

    public long Register(IPendingCall call)
    {
        var id = Interlocked.Increment(ref _nextId);
        _calls[id] = call;
        _deadlines.Enqueue((id, _clock.GetTimestamp() + (long)(_timeout.TotalSeconds * _clock.TimestampFrequency)));
        return id;
    }

    public IPendingCall? Remove(long id) => _calls.TryRemove(id, out var call) ? call : null;

    public void OnResponse(long id, ResponseStatus status, ReadOnlySpan<byte> payload)
    {
        if (_calls.TryRemove(id, out var call))
        {
            call.OnResponse(status, payload);
        }
    }

    /// <summary>Fails every pending call that matches <paramref name="predicate"/> (for example, all calls sent on a closed connection).</summary>
    public void FailAll(Func<IPendingCall, bool> predicate, Exception exception)
    {
        foreach (var pair in _calls)
        {
            if (predicate(pair.Value) && _calls.TryRemove(pair.Key, out var call))
            {
                call.Fail(exception);
            }
        }
    }

    private void ExpireOverdue()
    {
        var now = _clock.GetTimestamp();
        while (_deadlines.TryPeek(out var head) && head.Deadline <= now)
        {
            _deadlines.TryDequeue(out _);
            if (_calls.TryRemove(head.Id, out var call))
            {
                call.Fail(new GrainCallTimeoutException($"No response within {_timeout}."));
            }
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        FailAll(static _ => true, new ObjectDisposedException(nameof(CallbackTable)));
    }
}
