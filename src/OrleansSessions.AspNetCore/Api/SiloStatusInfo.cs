namespace OrleansSessions.AspNetCore.Api;

/// <summary>One silo as seen by GET /api/cluster.</summary>
/// <param name="Address">host:port@generation.</param>
/// <param name="Status">joining, active, shutting_down, stopping or dead (Orleans' SiloStatus).</param>
/// <param name="Activations">Its activations; null when it did not answer (dead, or stopping).</param>
/// <param name="GatewayPort">The port clients connect to.</param>
/// <param name="HttpPort">Its HTTP port (0: none, or it did not answer).</param>
/// <param name="Live">Sessions created minus ended by this silo since it started; null when it did not answer.</param>
/// <param name="Created">Sessions created by this silo since it started; null when it did not answer.</param>
/// <param name="Ended">Sessions ended by this silo since it started; null when it did not answer.</param>
public sealed record SiloStatusInfo(string Address, string Status, int? Activations, int GatewayPort, int HttpPort, long? Live, long? Created, long? Ended);
