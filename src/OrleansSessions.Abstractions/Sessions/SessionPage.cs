namespace OrleansSessions.Sessions;

/// <summary>One page of a user's live sessions (<see cref="IUserSessionsGrain.GetActiveSessionsPageAsync"/>).</summary>
/// <param name="Sessions">Live sessions, oldest first.</param>
/// <param name="Total">How many live sessions the user has (as the grain knows them after this read).</param>
/// <param name="Next">The cursor of the next page (the last session id of this one), or null when this page is the last.</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.SessionPage")]
public sealed record SessionPage(
    [property: Id(0)] IReadOnlyList<SessionInfo> Sessions,
    [property: Id(1)] int Total,
    [property: Id(2)] string? Next)
{
    /// <summary>The page size when a caller names none (GET /api/users/{userId}/sessions without ?limit=).</summary>
    public const int DefaultLimit = 100;

    /// <summary>The largest page a read returns.</summary>
    public const int MaxLimit = 1_000;
}
