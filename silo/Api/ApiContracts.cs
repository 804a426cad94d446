namespace OrleansSessions.SiloHost.Api;

/// <summary>The body of POST /api/sessions.</summary>
public sealed class CreateSessionRequest
{
    /// <summary>The user the session is for (1..128 characters, no control characters).</summary>
    public string? UserId { get; set; }
}

/// <summary>The answer of DELETE /api/users/{userId}/sessions.</summary>
/// <param name="Closed">How many live sessions were ended.</param>
public sealed record ClosedCount(int Closed);

/// <summary>The answer of POST /api/janitor/run.</summary>
/// <param name="Expired">How many sessions the janitors of all partitions expired.</param>
public sealed record ExpiredCount(int Expired);

/// <summary>The answer of GET /api/cluster.</summary>
/// <param name="Silos">The silos in the membership table that are not long dead.</param>
/// <param name="Sessions">Session counts summed over the silos that answered.</param>
public sealed record ClusterStatus(IReadOnlyList<SiloStatusInfo> Silos, ClusterSessions Sessions);

/// <summary>One silo as seen by GET /api/cluster.</summary>
/// <param name="Address">host:port@generation.</param>
/// <param name="Status">joining, active, shutting_down or dead.</param>
/// <param name="Activations">Its activations; null when it did not answer (dead, or no HTTP).</param>
/// <param name="GatewayPort">The port clients connect to.</param>
/// <param name="HttpPort">Its HTTP port (0: none).</param>
/// <param name="Live">Sessions created minus ended by this silo since it started; null when it did not answer.</param>
/// <param name="Created">Sessions created by this silo since it started; null when it did not answer.</param>
/// <param name="Ended">Sessions ended by this silo since it started; null when it did not answer.</param>
public sealed record SiloStatusInfo(string Address, string Status, int? Activations, int GatewayPort, int HttpPort, long? Live, long? Created, long? Ended);

/// <summary>Cluster-wide session counts (sums of the silos' sessions.* metrics).</summary>
/// <param name="Live">Live sessions in the cluster.</param>
/// <param name="Created">Sessions created since the silos started.</param>
/// <param name="Ended">Sessions ended since the silos started.</param>
/// <param name="ReportingSilos">How many silos contributed to the sums.</param>
public sealed record ClusterSessions(long Live, long Created, long Ended, int ReportingSilos);

/// <summary>The answer of GET /api/cluster/silo: this silo's own figures, read by its peers for GET /api/cluster.</summary>
/// <param name="Address">host:port@generation.</param>
/// <param name="Activations">Its activations.</param>
/// <param name="Live">Sessions created minus ended here.</param>
/// <param name="Created">Sessions created here.</param>
/// <param name="Ended">Sessions ended here.</param>
public sealed record SiloStats(string Address, int Activations, long Live, long Created, long Ended);
