namespace OrleansSessions.AspNetCore.Api;

/// <summary>The answer of GET /api/cluster/silo: this silo's own figures (the cluster view reads them through Orleans).</summary>
/// <param name="Address">host:port@generation.</param>
/// <param name="Activations">Its activations.</param>
/// <param name="Live">Sessions created minus ended here.</param>
/// <param name="Created">Sessions created here.</param>
/// <param name="Ended">Sessions ended here.</param>
public sealed record SiloStats(string Address, int Activations, long Live, long Created, long Ended);
