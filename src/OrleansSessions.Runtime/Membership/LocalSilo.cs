using Microsoft.Extensions.Options;
using OrleansSessions.Runtime.Hosting;

namespace OrleansSessions.Runtime.Membership;

/// <summary>The identity of this silo.</summary>
public sealed class LocalSilo
{
    /// <summary>Creates the identity from the silo options; the generation is the start time.</summary>
    public LocalSilo(IOptions<SiloOptions> options, IOptions<ClusterOptions> cluster)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(cluster);
        var o = options.Value;
        Address = new SiloAddress(o.Host, o.SiloPort, DateTime.UtcNow.Ticks);
        GatewayPort = o.GatewayPort;
        HttpPort = o.HttpPort;
        ClusterId = cluster.Value.ClusterId;
    }

    /// <summary>This silo's address.</summary>
    public SiloAddress Address { get; }

    /// <summary>The client gateway port.</summary>
    public int GatewayPort { get; }

    /// <summary>The HTTP port, or 0.</summary>
    public int HttpPort { get; }

    /// <summary>The cluster id.</summary>
    public string ClusterId { get; }
}
