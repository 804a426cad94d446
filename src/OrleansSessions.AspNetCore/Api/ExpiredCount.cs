namespace OrleansSessions.AspNetCore.Api;

/// <summary>The answer of POST /api/janitor/run.</summary>
/// <param name="Expired">How many sessions the janitors of all partitions expired.</param>
public sealed record ExpiredCount(int Expired);
