namespace OrleansSessions.AspNetCore.Api;

/// <summary>Cluster-wide session counts (sums of the silos' sessions.* metrics).</summary>
/// <param name="Live">Live sessions in the cluster.</param>
/// <param name="Created">Sessions created since the silos started.</param>
/// <param name="Ended">Sessions ended since the silos started.</param>
/// <param name="ReportingSilos">How many silos contributed to the sums.</param>
public sealed record ClusterSessions(long Live, long Created, long Ended, int ReportingSilos);
