namespace OrleansSessions.AspNetCore.Dashboard;

/// <summary>The answer of GET /api/stats/history: the cluster's session figures over the last minutes.</summary>
/// <param name="IntervalSeconds">The time between two samples.</param>
/// <param name="ReportingSilos">How many silos contributed.</param>
/// <param name="Samples">Oldest first.</param>
public sealed record SessionHistory(double IntervalSeconds, int ReportingSilos, IReadOnlyList<SessionHistoryPoint> Samples);

/// <summary>The cluster's session figures over one sampling interval (sums over the silos that reported it).</summary>
/// <param name="At">The end of the interval.</param>
/// <param name="Live">Live sessions at its end.</param>
/// <param name="CreatedPerSecond">Sessions created per second during the interval.</param>
/// <param name="EndedPerSecond">Sessions ended per second during the interval (any reason).</param>
/// <param name="Expired">Sessions expired by their timers during the interval (the ones whose lag was measured).</param>
/// <param name="ExpiryLagP50Ms">Median expiry lag (event time - deadline) in the interval, ms; null without expiries.</param>
/// <param name="ExpiryLagP99Ms">99th percentile of the expiry lag in the interval, ms; null without expiries.</param>
public sealed record SessionHistoryPoint(
    DateTimeOffset At,
    long Live,
    double CreatedPerSecond,
    double EndedPerSecond,
    long Expired,
    double? ExpiryLagP50Ms,
    double? ExpiryLagP99Ms);
