using System.Globalization;
using Orleans.Concurrency;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// Reads the event log for callers (<see cref="ISessionEventLogGrain"/>): a stateless worker on the silo that receives
/// the call, reentrant, keeping nothing. A cursor is the position read through in every partition of the log
/// ("v1:" and the positions, dot-separated, partition 0 first); a page merges the partitions' next events by time,
/// each partition's in its own order (which is its sessions' order of changes).
/// </summary>
[GrainType("session-event-log")]
[StatelessWorker]
[Reentrant]
internal sealed class SessionEventLogGrain(SessionServices services) : Grain, ISessionEventLogGrain
{
    public async Task<SessionEventPage> ReadAsync(string after, int limit, string? userId = null)
    {
        if (limit is < 1 or > ISessionEventLogGrain.MaxLimit)
        {
            throw new ArgumentException($"limit must be from 1 to {ISessionEventLogGrain.MaxLimit}.", nameof(limit));
        }
        if (userId is not null)
        {
            SessionKeys.ThrowIfInvalidUserId(userId);
        }
        var partitions = services.Janitor.Partitions;
        var log = services.EventLog;
        long[] positions;
        if (after == ISessionEventLogGrain.Start)
        {
            positions = new long[partitions];
            for (var p = 0; p < partitions; p++)
            {
                positions[p] = (await log.BoundsAsync(p)).TrimmedThrough;
            }
        }
        else
        {
            positions = Parse(after, partitions);
        }

        // Each partition's next events; a first position past the one after the cursor means events were trimmed.
        var heads = new IReadOnlyList<LoggedSessionEvent>[partitions];
        for (var p = 0; p < partitions; p++)
        {
            var read = await log.ReadAsync(p, positions[p], limit);
            if ((read.Count > 0 && read[0].Position > positions[p] + 1)
                || (read.Count == 0 && (await log.BoundsAsync(p)).TrimmedThrough > positions[p]))
            {
                throw await ExpiredAsync(partitions);
            }
            heads[p] = read;
        }

        var events = new List<SessionEvent>(Math.Min(limit, heads.Sum(h => h.Count)));
        var next = new int[partitions];
        var scanned = 0;
        while (scanned < limit)
        {
            var pick = -1;
            for (var p = 0; p < partitions; p++)
            {
                if (next[p] < heads[p].Count && (pick < 0 || heads[p][next[p]].Event.At < heads[pick][next[pick]].Event.At))
                {
                    pick = p;
                }
            }
            if (pick < 0)
            {
                break;
            }
            var logged = heads[pick][next[pick]++];
            positions[pick] = logged.Position;
            scanned++;
            if (userId is null || string.Equals(logged.Event.Session.UserId, userId, StringComparison.Ordinal))
            {
                events.Add(logged.Event with { Cursor = Format(positions) });
            }
        }
        return new SessionEventPage(events, Format(positions));
    }

    public async Task<string> HeadAsync()
    {
        var partitions = services.Janitor.Partitions;
        var positions = new long[partitions];
        for (var p = 0; p < partitions; p++)
        {
            positions[p] = (await services.EventLog.BoundsAsync(p)).Head;
        }
        return Format(positions);
    }

    private async Task<EventCursorExpiredException> ExpiredAsync(int partitions)
    {
        var oldest = new long[partitions];
        for (var p = 0; p < partitions; p++)
        {
            oldest[p] = (await services.EventLog.BoundsAsync(p)).TrimmedThrough;
        }
        return new EventCursorExpiredException(
            $"Events after this cursor are no longer retained (Events:Retention is {services.EventLogOptions.Retention.ToString("c", CultureInfo.InvariantCulture)}); resume from the oldest cursor held, or from \"0\".",
            Format(oldest));
    }

    private static string Format(long[] positions) => SessionEventCursor.Format(positions);

    private static long[] Parse(string? cursor, int partitions)
    {
        if (!SessionEventCursor.TryParse(cursor, out var positions))
        {
            throw new ArgumentException(SessionEventCursor.Rule, nameof(cursor));
        }
        if (positions.Length != partitions)
        {
            throw new ArgumentException($"{SessionEventCursor.Rule} This cluster's log has {partitions} partitions (Janitor:Partitions).", nameof(cursor));
        }
        return positions;
    }
}
