namespace OrleansSessions.Runtime.Membership;

/// <summary>One row of the membership table.</summary>
public sealed record MembershipEntry
{
    /// <summary>The silo.</summary>
    public required SiloAddress Silo { get; init; }

    /// <summary>Its status.</summary>
    public SiloStatus Status { get; init; }

    /// <summary>The port clients connect to.</summary>
    public int GatewayPort { get; init; }

    /// <summary>The HTTP port, or 0 when the silo serves no HTTP.</summary>
    public int HttpPort { get; init; }

    /// <summary>When the silo started.</summary>
    public DateTimeOffset StartTime { get; init; }

    /// <summary>The silo's last heartbeat.</summary>
    public DateTimeOffset IAmAliveTime { get; init; }

    /// <summary>Silos that suspect this one, with the time of suspicion.</summary>
    public IReadOnlyList<string> SuspectedBy { get; init; } = [];
}
