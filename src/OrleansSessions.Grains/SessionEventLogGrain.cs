using System.Globalization;
using Orleans.Concurrency;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// Reads the event log for callers (<see cref="ISessionEventLogGrain"/>): a stateless worker on the silo that receives
/// the call, reentrant, keeping nothing. A cursor is the position read through in every partition of the log
/// ("v1:" and the positions, dot-separated, partition 0 first); a page merges the partitions' next events by time,
/// each partition's in its own order (which is its sessions' order of changes). The partitions are read at once, each
/// for about its share of the page first, and again only if the merge uses that up.
/// </summary>
[GrainType("session-event-log")]
[StatelessWorker]
[Reentrant]
internal sealed class SessionEventLogGrain(SessionServices services) : Grain, ISessionEventLogGrain
{
    /// <summary>The fewest events a page's first read of a partition asks for.</summary>
    private const int MinChunk = 32;

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
        var positions = after == ISessionEventLogGrain.Start
            ? (await BoundsAsync(partitions)).Select(b => b.TrimmedThrough).ToArray()
            : Parse(after, partitions);

        // Each partition's next events, the partitions read at once: first up to twice an even share of the page each;
        // a partition whose events the merge uses up is read again (once, for the rest of the page) only then. A first
        // position past the one after the cursor means events were trimmed.
        var chunk = Math.Min(limit, Math.Max(MinChunk, 2 * ((limit + partitions - 1) / partitions)));
        var heads = await Task.WhenAll(Enumerable.Range(0, partitions).Select(p => log.ReadAsync(p, positions[p], chunk).AsTask()));
        var more = new bool[partitions];
        var empty = new List<int>();
        for (var p = 0; p < partitions; p++)
        {
            if (heads[p].Count > 0 && heads[p][0].Position > positions[p] + 1)
            {
                throw await ExpiredAsync(partitions);
            }
            if (heads[p].Count == 0)
            {
                empty.Add(p);
            }
            more[p] = heads[p].Count == chunk && chunk < limit;
        }
        if (empty.Count > 0)
        {
            var bounds = await Task.WhenAll(empty.Select(p => log.BoundsAsync(p).AsTask()));
            for (var i = 0; i < empty.Count; i++)
            {
                if (bounds[i].TrimmedThrough > positions[empty[i]])
                {
                    throw await ExpiredAsync(partitions);
                }
            }
        }

        var events = new List<SessionEvent>(Math.Min(limit, heads.Sum(h => h.Count)));
        var next = new int[partitions];
        var scanned = 0;
        while (scanned < limit)
        {
            var pick = -1;
            for (var p = 0; p < partitions; p++)
            {
                if (next[p] == heads[p].Count && more[p])
                {
                    heads[p] = await ReadMoreAsync(p, positions[p], limit - scanned, partitions);
                    next[p] = 0;
                    more[p] = false;
                }
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

    public async Task<string> HeadAsync() => Format((await BoundsAsync(services.Janitor.Partitions)).Select(b => b.Head).ToArray());

    /// <summary>The events of <paramref name="partition"/> after <paramref name="after"/>, the last position this page read from it.</summary>
    private async Task<IReadOnlyList<LoggedSessionEvent>> ReadMoreAsync(int partition, long after, int limit, int partitions)
    {
        var read = await services.EventLog.ReadAsync(partition, after, limit);
        // Trimmed since the page's first read of the partition: its next events are gone.
        if ((read.Count > 0 && read[0].Position > after + 1)
            || (read.Count == 0 && (await services.EventLog.BoundsAsync(partition)).TrimmedThrough > after))
        {
            throw await ExpiredAsync(partitions);
        }
        return read;
    }

    /// <summary>The bounds of every partition, read at once.</summary>
    private Task<SessionEventLogBounds[]> BoundsAsync(int partitions)
        => Task.WhenAll(Enumerable.Range(0, partitions).Select(p => services.EventLog.BoundsAsync(p).AsTask()));

    private async Task<EventCursorExpiredException> ExpiredAsync(int partitions)
    {
        var oldest = (await BoundsAsync(partitions)).Select(b => b.TrimmedThrough).ToArray();
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
