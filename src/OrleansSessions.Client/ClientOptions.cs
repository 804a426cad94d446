using OrleansSessions.Messaging;

namespace OrleansSessions.Client;

/// <summary>How a client reaches the cluster.</summary>
public sealed class ClientOptions
{
    /// <summary>Gateway endpoints as host:port; the client connects to one and fails over to the next.</summary>
    public IList<string> Gateways { get; } = new List<string>();

    /// <summary>The cluster to join (must match the silos' Cluster:ClusterId), "dev" by default.</summary>
    public string ClusterId { get; set; } = "dev";

    /// <summary>The shared secret when the silos set Security:ApiToken.</summary>
    public string? ApiToken { get; set; }

    /// <summary>Transport settings (frame size, response timeout).</summary>
    public MessagingOptions Messaging { get; } = new();

    /// <summary>How long to keep trying gateways before a call fails with <see cref="SiloUnavailableException"/>.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
