namespace OrleansSessions.AspNetCore.Api;

/// <summary>The answer of GET /api/cluster.</summary>
/// <param name="Silos">The silos in the membership table that are not long dead.</param>
/// <param name="Sessions">Session counts summed over the silos that answered.</param>
public sealed record ClusterStatus(IReadOnlyList<SiloStatusInfo> Silos, ClusterSessions Sessions);
