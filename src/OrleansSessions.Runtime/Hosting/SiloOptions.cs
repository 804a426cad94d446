namespace OrleansSessions.Runtime.Hosting;

/// <summary>Where a silo listens (configuration section "Silo").</summary>
public sealed class SiloOptions
{
    /// <summary>The address the silo binds and advertises (Silo:Host), 127.0.0.1 by default.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Silo-to-silo port (Silo:SiloPort), 11111 by default.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Client gateway port (Silo:GatewayPort), 30000 by default.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>HTTP port (Silo:HttpPort), 8080 by default; 0 serves no HTTP.</summary>
    public int HttpPort { get; set; } = 8080;
}

/// <summary>Cluster identity (configuration section "Cluster").</summary>
public sealed class ClusterOptions
{
    /// <summary>Silos with the same id form one cluster (Cluster:ClusterId), "dev" by default.</summary>
    public string ClusterId { get; set; } = "dev";
}

/// <summary>Shared secret for clients and silos (configuration section "Security").</summary>
public sealed class SecurityOptions
{
    /// <summary>When set, every connection and every /api call must present it (Security:ApiToken).</summary>
    public string? ApiToken { get; set; }
}

/// <summary>Idle collection of activations (configuration section "GrainCollection").</summary>
public sealed class GrainCollectionOptions
{
    /// <summary>An activation idle this long is deactivated (GrainCollection:CollectionAge), 15 minutes by default.</summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often idle activations are looked for (GrainCollection:CollectionQuantum), 1 minute by default.</summary>
    public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Time allowed for deactivating everything at shutdown.</summary>
    public TimeSpan DeactivationTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Failure detection (configuration section "Membership"). Defaults detect a dead silo within about 4 s.</summary>
public sealed class MembershipOptions
{
    /// <summary>Time between probes of each monitored silo.</summary>
    public TimeSpan ProbePeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A probe without an answer within this time is missed.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Consecutive missed probes after which a silo is declared dead.</summary>
    public int NumMissedProbesLimit { get; set; } = 3;

    /// <summary>How many other silos each silo probes.</summary>
    public int NumProbedSilos { get; set; } = 3;

    /// <summary>How often the membership table is read.</summary>
    public TimeSpan TableRefreshPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a silo writes its heartbeat.</summary>
    public TimeSpan IAmAlivePeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A silo whose heartbeat is older than this is declared dead even without probes.</summary>
    public TimeSpan IAmAliveTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Reminder service settings (configuration section "Reminders").</summary>
public sealed class ReminderOptions
{
    /// <summary>The smallest allowed reminder period, 1 minute by default (tests lower it).</summary>
    public TimeSpan MinimumReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often a silo re-reads the reminders it owns.</summary>
    public TimeSpan RefreshPeriod { get; set; } = TimeSpan.FromMinutes(1);
}
