namespace OrleansSessions.AspNetCore.Api;

/// <summary>The answer of DELETE /api/users/{userId}/sessions.</summary>
/// <param name="Closed">How many live sessions were ended.</param>
public sealed record ClosedCount(int Closed);
