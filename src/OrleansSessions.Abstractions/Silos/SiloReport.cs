namespace OrleansSessions.Silos;

/// <summary>One silo's own figures, as its <see cref="ISiloSessionsGrain"/> gives them.</summary>
/// <param name="Address">host:port@generation.</param>
/// <param name="HttpPort">Its HTTP port (0: none; <see cref="SiloSessionsOptions.HttpPort"/>).</param>
/// <param name="Live">Sessions created minus ended by this silo since it started.</param>
/// <param name="Created">Sessions created by this silo since it started.</param>
/// <param name="Ended">Sessions ended by this silo since it started.</param>
[GenerateSerializer, Immutable, Alias("OrleansSessions.AspNetCore.SiloReport")]
public sealed record SiloReport(
    [property: Id(0)] string Address,
    [property: Id(1)] int HttpPort,
    [property: Id(2)] long Live,
    [property: Id(3)] long Created,
    [property: Id(4)] long Ended);
