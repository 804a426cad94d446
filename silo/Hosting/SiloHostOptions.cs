using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>Silo:Host and the ports, and Silo:HandshakeTimeout: the "Silo" section (Silo:MaxPeerConnections is <see cref="PeerLimitOptions"/>).</summary>
internal sealed class HostEndpointOptions
{
    public const string SectionName = "Silo";

    /// <summary>Silo:Host: the address bound and advertised, an IP address or localhost.</summary>
    /// <value>127.0.0.1.</value>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Silo:SiloPort: the silo-to-silo port.</summary>
    /// <value>11111 (1 to 65535).</value>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Silo:GatewayPort: the client gateway port.</summary>
    /// <value>30000 (1 to 65535).</value>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Silo:HttpPort: Kestrel's port; 0 = no HTTP.</summary>
    /// <value>8080 (0 to 65535).</value>
    public int HttpPort { get; set; } = 8080;

    /// <summary>Silo:HandshakeTimeout: how long a connection to the silo or gateway port may take from accept to Orleans' preamble, TLS handshake included.</summary>
    /// <value>00:00:05 (more than 0, at most <see cref="SiloSettings.MaxHandshakeTimeout"/>).</value>
    public TimeSpan HandshakeTimeout { get; set; } = Hosting.HandshakeTimeout.DefaultTimeout;

    /// <summary>Silo:Host as an address: blank is 127.0.0.1, localhost is 127.0.0.1; false when it is neither an address nor localhost.</summary>
    public bool TryGetHostAddress(out IPAddress address)
    {
        address = IPAddress.Loopback;
        if (string.IsNullOrWhiteSpace(Host))
        {
            return true;
        }
        var text = Host.Trim();
        if (string.Equals(text, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        if (IPAddress.TryParse(text, out var parsed))
        {
            address = parsed;
            return true;
        }
        return false;
    }
}

/// <summary>Cluster:ClusterId: the "Cluster" section.</summary>
internal sealed class HostClusterOptions
{
    public const string SectionName = "Cluster";

    /// <summary>Silos (and clients) with the same id form one cluster.</summary>
    /// <value>dev (blank is dev).</value>
    public string ClusterId { get; set; } = "dev";
}

/// <summary>Storage:Provider and Storage:ConnectionString: the "Storage" section.</summary>
internal sealed class HostStorageOptions
{
    public const string SectionName = "Storage";

    /// <summary>memory, postgres (or postgresql) or redis, in any case; checked before the host is built.</summary>
    /// <value>memory (blank is memory).</value>
    public string Provider { get; set; } = "memory";

    /// <summary>The Npgsql or StackExchange.Redis connection string; required with postgres and redis.</summary>
    /// <value>Empty.</value>
    public string ConnectionString { get; set; } = "";
}

/// <summary>Security:ApiToken and the certificate paths: the "Security" section, as the silo host reads it.</summary>
internal sealed class HostSecurityOptions
{
    public const string SectionName = "Security";

    /// <summary>Security:ApiToken: the shared secret of the HTTP API; empty = no auth (loopback only).</summary>
    /// <value>Empty; otherwise at least <see cref="SiloSettings.MinApiTokenLength"/> characters without leading or trailing white space.</value>
    public string ApiToken { get; set; } = "";

    /// <summary>Security:Certificate: the silo's certificate (.pfx/.p12, or PEM) with its private key.</summary>
    public string Certificate { get; set; } = "";

    /// <summary>Security:CertificateKey: the PEM private key of <see cref="Certificate"/> when it is not in the same file.</summary>
    public string CertificateKey { get; set; } = "";

    /// <summary>Security:CertificatePassword: the password of a PKCS#12 certificate or of an encrypted PEM key; null when not set.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>Security:CaCertificate: the PEM CA certificate(s) peers and clients must chain to.</summary>
    public string CaCertificate { get; set; } = "";
}

/// <summary>The failure detector and membership table: the "Membership" section, mapped onto Orleans' ClusterMembershipOptions.</summary>
internal sealed class HostMembershipOptions
{
    public const string SectionName = "Membership";

    /// <value>00:00:01 (more than 0).</value>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <value>3 (1 or more).</value>
    public int NumMissedProbesLimit { get; set; } = 3;

    /// <value>3 (1 or more).</value>
    public int NumProbedSilos { get; set; } = 3;

    /// <value>00:00:01 (more than 0).</value>
    public TimeSpan TableRefreshPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <value>00:00:01 (more than 0).</value>
    public TimeSpan IAmAlivePeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <value>00:00:10 (at least <see cref="IAmAlivePeriod"/>).</value>
    public TimeSpan IAmAliveTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Idle activation collection: the "GrainCollection" section, mapped onto Orleans' GrainCollectionOptions.</summary>
internal sealed class HostGrainCollectionOptions
{
    public const string SectionName = "GrainCollection";

    /// <value>00:15:00 (more than <see cref="CollectionQuantum"/>).</value>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <value>00:01:00 (more than 0).</value>
    public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Messaging:ResponseTimeout: the "Messaging" section.</summary>
internal sealed class HostMessagingOptions
{
    public const string SectionName = "Messaging";

    /// <summary>How long a grain call waits for its answer.</summary>
    /// <value>00:00:30 (more than 0).</value>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>The reminder service: the "Reminders" section, mapped onto Orleans' ReminderOptions.</summary>
internal sealed class HostReminderOptions
{
    public const string SectionName = "Reminders";

    /// <value>00:01:00 (more than 0).</value>
    public TimeSpan MinimumReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <value>00:01:00 (more than 0).</value>
    public TimeSpan RefreshPeriod { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// The checks of the silo host's own keys (Silo:*, Cluster:*, Storage:*, Security:*, Membership:*, GrainCollection:*,
/// Messaging:*, Reminders:*); each message names its key and quotes the configured text.
/// </summary>
internal sealed class SiloSettingsValidator(IConfiguration configuration)
    : IConfigurationKeyValidator<HostEndpointOptions>, IConfigurationKeyValidator<HostClusterOptions>,
      IConfigurationKeyValidator<HostStorageOptions>, IConfigurationKeyValidator<HostSecurityOptions>,
      IConfigurationKeyValidator<HostMembershipOptions>, IConfigurationKeyValidator<HostGrainCollectionOptions>,
      IConfigurationKeyValidator<HostMessagingOptions>, IConfigurationKeyValidator<HostReminderOptions>
{
    // The smallest whole number of each count key.
    private static readonly Dictionary<string, int> Counts = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Membership:NumMissedProbesLimit"] = 1,
        ["Membership:NumProbedSilos"] = 1,
    };

    // Whether each port key may be 0.
    private static readonly Dictionary<string, bool> Ports = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Silo:SiloPort"] = false,
        ["Silo:GatewayPort"] = false,
        ["Silo:HttpPort"] = true,
    };

    private static readonly HashSet<string> Durations = new(StringComparer.OrdinalIgnoreCase)
    {
        "Silo:HandshakeTimeout", "Membership:ProbeTimeout", "Membership:TableRefreshPeriod", "Membership:IAmAlivePeriod",
        "Membership:IAmAliveTimeout", "GrainCollection:CollectionAge", "GrainCollection:CollectionQuantum",
        "Messaging:ResponseTimeout", "Reminders:MinimumReminderPeriod", "Reminders:RefreshPeriod",
    };

    public ValidateOptionsResult Validate(string? name, HostEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!options.TryGetHostAddress(out _))
        {
            failures.Add($"Silo:Host must be an IP address such as 127.0.0.1 (got '{options.Host.Trim()}')");
        }
        var ports = Port(failures, "Silo:SiloPort", options.SiloPort) & Port(failures, "Silo:GatewayPort", options.GatewayPort) & Port(failures, "Silo:HttpPort", options.HttpPort);
        if (ports && failures.Count == 0)
        {
            if (options.SiloPort == options.GatewayPort)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"Silo:SiloPort and Silo:GatewayPort must differ (both {options.SiloPort})"));
            }
            if (options.HttpPort != 0 && (options.HttpPort == options.SiloPort || options.HttpPort == options.GatewayPort))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"Silo:HttpPort {options.HttpPort} is also used by Silo:SiloPort or Silo:GatewayPort"));
            }
        }
        if (Positive(failures, "Silo:HandshakeTimeout", options.HandshakeTimeout) && options.HandshakeTimeout > SiloSettings.MaxHandshakeTimeout)
        {
            // A connection's timer cannot run longer (CancellationTokenSource), and a slower handshake is no handshake.
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"Silo:HandshakeTimeout must be at most {SiloSettings.MaxHandshakeTimeout:c} (got '{configuration["Silo:HandshakeTimeout"]}')"));
        }
        return Result(failures);
    }

    // Any id and any provider name bind; the provider is checked before the host is built (SiloSettings), after the values.
    public ValidateOptionsResult Validate(string? name, HostClusterOptions options) => ValidateOptionsResult.Success;

    public ValidateOptionsResult Validate(string? name, HostStorageOptions options) => ValidateOptionsResult.Success;

    public ValidateOptionsResult Validate(string? name, HostSecurityOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var token = options.ApiToken;
        if (token.Length == 0)
        {
            return ValidateOptionsResult.Success;
        }
        // Never echoed. A presented token is trimmed, so a padded one could never match.
        if (token.Trim().Length != token.Length)
        {
            return ValidateOptionsResult.Fail("Security:ApiToken must not begin or end with white space");
        }
        return token.Length < SiloSettings.MinApiTokenLength
            ? ValidateOptionsResult.Fail(string.Create(CultureInfo.InvariantCulture, $"Security:ApiToken must be at least {SiloSettings.MinApiTokenLength} characters (e.g. openssl rand -hex 32)"))
            : ValidateOptionsResult.Success;
    }

    public ValidateOptionsResult Validate(string? name, HostMembershipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        Positive(failures, "Membership:ProbeTimeout", options.ProbeTimeout);
        Count(failures, "Membership:NumMissedProbesLimit", options.NumMissedProbesLimit);
        Count(failures, "Membership:NumProbedSilos", options.NumProbedSilos);
        Positive(failures, "Membership:TableRefreshPeriod", options.TableRefreshPeriod);
        if (Positive(failures, "Membership:IAmAlivePeriod", options.IAmAlivePeriod) & Positive(failures, "Membership:IAmAliveTimeout", options.IAmAliveTimeout)
            && options.IAmAliveTimeout < options.IAmAlivePeriod)
        {
            failures.Add("Membership:IAmAliveTimeout must be >= Membership:IAmAlivePeriod");
        }
        return Result(failures);
    }

    public ValidateOptionsResult Validate(string? name, HostGrainCollectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (Positive(failures, "GrainCollection:CollectionAge", options.CollectionAge) & Positive(failures, "GrainCollection:CollectionQuantum", options.CollectionQuantum)
            && options.CollectionAge <= options.CollectionQuantum)
        {
            // Orleans' own validator would refuse it later without naming the keys.
            failures.Add("GrainCollection:CollectionAge must be > GrainCollection:CollectionQuantum");
        }
        return Result(failures);
    }

    public ValidateOptionsResult Validate(string? name, HostMessagingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        Positive(failures, "Messaging:ResponseTimeout", options.ResponseTimeout);
        return Result(failures);
    }

    public ValidateOptionsResult Validate(string? name, HostReminderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        Positive(failures, "Reminders:MinimumReminderPeriod", options.MinimumReminderPeriod);
        Positive(failures, "Reminders:RefreshPeriod", options.RefreshPeriod);
        return Result(failures);
    }

    /// <inheritdoc cref="IConfigurationKeyValidator{TOptions}.DescribeInvalid"/>
    public string DescribeInvalid(string key)
    {
        var text = configuration[key];
        // The binder names the key as it was written; the message names it as documented.
        key = Counts.Keys.Concat(Ports.Keys).Concat(Durations).FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase)) ?? key;
        if (Ports.TryGetValue(key, out var allowZero))
        {
            return allowZero ? $"{key} must be a port from 0 to 65535 (got '{text}')" : $"{key} must be a port from 1 to 65535 (got '{text}')";
        }
        if (Counts.TryGetValue(key, out var minimum))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{key} must be an integer >= {minimum} (got '{text}')");
        }
        if (Durations.Contains(key))
        {
            return $"{key} must be a time span > 0 such as 00:00:05 (got '{text}')";
        }
        return $"{key} has an invalid value (got '{text}')";
    }

    private bool Port(List<string> failures, string key, int port)
    {
        if (port >= (Ports[key] ? 0 : 1) && port <= 65535)
        {
            return true;
        }
        failures.Add(DescribeInvalid(key));
        return false;
    }

    private void Count(List<string> failures, string key, int value)
    {
        if (value < Counts[key])
        {
            failures.Add(DescribeInvalid(key));
        }
    }

    private bool Positive(List<string> failures, string key, TimeSpan value)
    {
        if (value > TimeSpan.Zero)
        {
            return true;
        }
        failures.Add(DescribeInvalid(key));
        return false;
    }

    private static ValidateOptionsResult Result(List<string> failures)
        => failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
}
