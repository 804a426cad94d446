using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Storage;

/// <summary>One event as the log holds it: its position in its partition and the event.</summary>
/// <param name="Position">1, 2, 3... per partition, in the order the log recorded them.</param>
/// <param name="Event">The event.</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.LoggedSessionEvent")]
public sealed record LoggedSessionEvent([property: Id(0)] long Position, [property: Id(1)] SessionEvent Event);

/// <summary>What a partition of the log holds: the positions of its oldest and newest events.</summary>
/// <param name="TrimmedThrough">Every position up to this one was trimmed (0 when none was).</param>
/// <param name="Head">The newest position recorded (0 when none was).</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionEventLogBounds")]
public sealed record SessionEventLogBounds([property: Id(0)] long TrimmedThrough, [property: Id(1)] long Head);

/// <summary>
/// The durable log of session lifecycle events, partitioned like the deadline index
/// (<see cref="SessionDeadlinePartitioner.GetPartition"/>), so that every event of one session is in one partition,
/// in the order of that session's changes.
/// </summary>
/// <remarks>
/// <para>
/// Contract kept by the session grain (the only writer of a session's events; calls for one session are never
/// concurrent): each event of a session carries a sequence number, 1, 2, 3... per session, stored with the change it
/// reports (the session's outbox). <see cref="AppendAsync"/> records an event once per (session id, sequence number):
/// appending it again, after a crash cut the first append's answer off, returns the position it already has. So an
/// event stored as pending in a session's state is in the log exactly once after any number of attempts.
/// </para>
/// <para>
/// Positions are assigned in the order events become visible to readers of the partition: a reader that has read
/// through position n never later sees a new event at a position at or below n.
/// </para>
/// <para>
/// Retention: <see cref="TrimAsync"/> removes events recorded before a time, oldest first, and remembers the last
/// position it removed, so that a reader can tell that events it did not read are gone.
/// </para>
/// </remarks>
public interface ISessionEventLog
{
    /// <summary>Records <paramref name="sessionEvent"/> as event <paramref name="sequence"/> of its session, once; returns its position.</summary>
    ValueTask<long> AppendAsync(int partition, long sequence, SessionEvent sessionEvent, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> events of <paramref name="partition"/> after position <paramref name="after"/>, in position order.</summary>
    ValueTask<IReadOnlyList<LoggedSessionEvent>> ReadAsync(int partition, long after, int limit, CancellationToken cancellationToken = default);

    /// <summary>The trimmed and newest positions of <paramref name="partition"/>.</summary>
    ValueTask<SessionEventLogBounds> BoundsAsync(int partition, CancellationToken cancellationToken = default);

    /// <summary>Removes the events of <paramref name="partition"/> recorded before <paramref name="before"/>; returns how many.</summary>
    ValueTask<int> TrimAsync(int partition, DateTimeOffset before, CancellationToken cancellationToken = default);
}
