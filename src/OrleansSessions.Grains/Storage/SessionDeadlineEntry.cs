namespace OrleansSessions.Grains.Storage;

/// <summary>One row of the deadline index.</summary>
/// <param name="SessionId">The session id (the row's key).</param>
/// <param name="UserId">The owning user.</param>
/// <param name="Deadline">A deadline no later than the session's real deadline (see <see cref="ISessionDeadlineIndex"/>).</param>
public readonly record struct SessionDeadlineEntry(string SessionId, string UserId, DateTimeOffset Deadline);
