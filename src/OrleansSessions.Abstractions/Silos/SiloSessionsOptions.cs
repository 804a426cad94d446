namespace OrleansSessions.Silos;

/// <summary>What a silo's <see cref="ISiloSessionsGrain"/> reports about the silo besides its session figures.</summary>
public sealed class SiloSessionsOptions
{
    /// <summary>The silo's HTTP port, so that a page can reach its peers. Default 0: none (set by the HTTP API's registration).</summary>
    public int HttpPort { get; set; }
}
