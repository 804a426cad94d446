using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The session's events: recorded in the durable event log (<see cref="Storage.ISessionEventLog"/>) through the
/// session's outbox, then published on the live Orleans stream.
/// </summary>
/// <remarks>
/// A change that reports an event (created, expired, closed, evicted) puts it into the outbox of the state it writes,
/// so the event is stored in the same write as the change. After the write the outbox is appended to the log, which
/// records each (session, sequence number) once; a crash in between leaves the event in the stored outbox, and the
/// next activation (for an ended session, the janitor's call that finishes its end) appends it. An "expiring" warning
/// reports no change: it is appended as it happens, under a sequence number of its own (minus its deadline's ticks),
/// so a repeated warning for the same deadline is recorded once.
/// </remarks>
internal sealed partial class SessionGrain
{
    /// <summary>
    /// Appends the outbox to the event log, oldest first; true when it is empty after. Events older than
    /// Events:Retention are dropped unappended: the log would have trimmed them, and may no longer know them.
    /// </summary>
    private async Task<bool> FlushOutboxAsync(SessionInfo info)
    {
        var outbox = State.Outbox;
        if (outbox is null || outbox.Count == 0)
        {
            return true;
        }
        var since = _time.GetUtcNow() - _services.EventLogOptions.Retention;
        try
        {
            foreach (var pending in outbox)
            {
                if (pending.At >= since)
                {
                    await _services.EventLog.AppendAsync(_partition, pending.Sequence, new SessionEvent { Type = pending.Type, Session = info, At = pending.At });
                }
            }
        }
        catch (Exception exception)
        {
            _services.Metrics.EventFailed();
            if (_services.PublishFailureLog.TryLog(out var notLogged))
            {
                SessionLog.EventLogAppendFailed(_services.SessionLogger, exception, info.SessionId, notLogged);
            }
            return false;
        }
        State.Outbox = null;
        return true;
    }

    /// <summary>Records an "expiring" warning in the event log (once per deadline), then publishes it live.</summary>
    private async Task WarnAsync(SessionInfo info, DateTimeOffset now)
    {
        try
        {
            await _services.EventLog.AppendAsync(_partition, -info.ExpiresAt.UtcTicks, new SessionEvent { Type = SessionEventType.Expiring, Session = info, At = now });
        }
        catch (Exception exception)
        {
            _services.Metrics.EventFailed();
            if (_services.PublishFailureLog.TryLog(out var notLogged))
            {
                SessionLog.EventLogAppendFailed(_services.SessionLogger, exception, info.SessionId, notLogged);
            }
        }
        await PublishAsync(SessionEventType.Expiring, info, now);
    }
}
