using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// The host's own configuration keys (Silo:*, Cluster:*, Storage:*, Security:*, Membership:*, GrainCollection:*,
/// Messaging:*, Reminders:*), read and checked before the silo is built, so that a bad value stops the start with one
/// line naming its key. Sessions:* and Janitor:* belong to the grains and are validated by their options validators.
/// </summary>
internal sealed class SiloSettings
{
    /// <summary>The Orleans ServiceId of every OrleansSessions deployment: grain state and reminders are keyed by it.</summary>
    public const string ServiceId = "orleans-sessions";

    /// <summary>The shortest Security:ApiToken accepted.</summary>
    public const int MinApiTokenLength = 16;

    /// <summary>The largest Silo:HandshakeTimeout.</summary>
    public static readonly TimeSpan MaxHandshakeTimeout = TimeSpan.FromHours(1);

    public required IPAddress Host { get; init; }

    public required IPAddress AdvertisedAddress { get; init; }

    public required int SiloPort { get; init; }

    public required int GatewayPort { get; init; }

    /// <summary>Kestrel's port; 0 = no HTTP.</summary>
    public required int HttpPort { get; init; }

    public required string ClusterId { get; init; }

    /// <summary>memory, postgres or redis.</summary>
    public required string StorageProvider { get; init; }

    public required string ConnectionString { get; init; }

    public required string ApiToken { get; init; }

    /// <summary>Security:Certificate and Security:CaCertificate: TLS on every port when set, else null.</summary>
    public required SiloCertificates? Certificates { get; init; }

    public required TimeSpan ProbeTimeout { get; init; }

    public required int NumMissedProbesLimit { get; init; }

    public required int NumProbedSilos { get; init; }

    public required TimeSpan TableRefreshPeriod { get; init; }

    public required TimeSpan IAmAlivePeriod { get; init; }

    public required TimeSpan IAmAliveTimeout { get; init; }

    public required TimeSpan CollectionAge { get; init; }

    public required TimeSpan CollectionQuantum { get; init; }

    public required TimeSpan ResponseTimeout { get; init; }

    public required TimeSpan MinimumReminderPeriod { get; init; }

    public required TimeSpan ReminderRefreshPeriod { get; init; }

    /// <summary>Silo:HandshakeTimeout: how long a connection to the silo or gateway port may take from accept to Orleans' preamble, TLS handshake included.</summary>
    public required TimeSpan HandshakeTimeout { get; init; }

    public bool IsLoopback => IPAddress.IsLoopback(Host);

    /// <summary>Whether Security:ApiToken is set (the HTTP API then requires it).</summary>
    public bool HasApiToken => !string.IsNullOrEmpty(ApiToken);

    /// <summary>Reads and checks the keys. Throws <see cref="SiloConfigurationException"/> naming the first bad key(s).</summary>
    public static SiloSettings Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var failures = new List<string>();
        var reader = new Reader(configuration, failures);

        var host = reader.Address("Silo:Host", IPAddress.Loopback);
        var siloPort = reader.Port("Silo:SiloPort", 11111, allowZero: false);
        var gatewayPort = reader.Port("Silo:GatewayPort", 30000, allowZero: false);
        var httpPort = reader.Port("Silo:HttpPort", 8080, allowZero: true);
        if (failures.Count == 0)
        {
            if (siloPort == gatewayPort)
            {
                failures.Add($"Silo:SiloPort and Silo:GatewayPort must differ (both {siloPort})");
            }
            if (httpPort != 0 && (httpPort == siloPort || httpPort == gatewayPort))
            {
                failures.Add($"Silo:HttpPort {httpPort} is also used by Silo:SiloPort or Silo:GatewayPort");
            }
        }
        var clusterId = configuration["Cluster:ClusterId"];
        clusterId = string.IsNullOrWhiteSpace(clusterId) ? "dev" : clusterId.Trim();

        var provider = configuration["Storage:Provider"];
        provider = string.IsNullOrWhiteSpace(provider) ? "memory" : provider.Trim().ToLowerInvariant();
        if (provider == "postgresql")
        {
            provider = "postgres";
        }
        var connectionString = configuration["Storage:ConnectionString"] ?? "";
        var apiToken = configuration["Security:ApiToken"] ?? "";
        if (apiToken.Length > 0)
        {
            // Never echoed. A presented token is trimmed, so a padded one could never match.
            if (apiToken.Trim().Length != apiToken.Length)
            {
                failures.Add("Security:ApiToken must not begin or end with white space");
            }
            else if (apiToken.Length < MinApiTokenLength)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"Security:ApiToken must be at least {MinApiTokenLength} characters (e.g. openssl rand -hex 32)"));
            }
        }

        var probeTimeout = reader.Positive("Membership:ProbeTimeout", TimeSpan.FromSeconds(1));
        var missedProbes = reader.Count("Membership:NumMissedProbesLimit", 3, 1);
        var probedSilos = reader.Count("Membership:NumProbedSilos", 3, 1);
        var tableRefresh = reader.Positive("Membership:TableRefreshPeriod", TimeSpan.FromSeconds(1));
        var iAmAlivePeriod = reader.Positive("Membership:IAmAlivePeriod", TimeSpan.FromSeconds(1));
        var iAmAliveTimeout = reader.Positive("Membership:IAmAliveTimeout", TimeSpan.FromSeconds(10));
        if (iAmAliveTimeout < iAmAlivePeriod)
        {
            failures.Add("Membership:IAmAliveTimeout must be >= Membership:IAmAlivePeriod");
        }

        var collectionAge = reader.Positive("GrainCollection:CollectionAge", TimeSpan.FromMinutes(15));
        var collectionQuantum = reader.Positive("GrainCollection:CollectionQuantum", TimeSpan.FromMinutes(1));
        if (collectionAge <= collectionQuantum)
        {
            // Orleans' own validator would refuse it later without naming the keys.
            failures.Add("GrainCollection:CollectionAge must be > GrainCollection:CollectionQuantum");
        }

        var responseTimeout = reader.Positive("Messaging:ResponseTimeout", TimeSpan.FromSeconds(30));
        var minimumReminderPeriod = reader.Positive("Reminders:MinimumReminderPeriod", TimeSpan.FromMinutes(1));
        var reminderRefresh = reader.Positive("Reminders:RefreshPeriod", TimeSpan.FromMinutes(1));
        var handshakeTimeout = reader.Positive("Silo:HandshakeTimeout", Hosting.HandshakeTimeout.DefaultTimeout);
        if (handshakeTimeout > MaxHandshakeTimeout)
        {
            // A connection's timer cannot run longer (CancellationTokenSource), and a slower handshake is no handshake.
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"Silo:HandshakeTimeout must be at most {MaxHandshakeTimeout:c} (got '{configuration["Silo:HandshakeTimeout"]}')"));
        }

        if (failures.Count > 0)
        {
            throw new SiloConfigurationException("Invalid configuration: " + string.Join("; ", failures));
        }
        if (provider is not ("memory" or "postgres" or "redis"))
        {
            throw new SiloConfigurationException($"Storage:Provider '{configuration["Storage:Provider"]}' is not supported: use memory, postgres or redis.");
        }
        if (provider is "postgres" or "redis" && string.IsNullOrWhiteSpace(connectionString))
        {
            throw new SiloConfigurationException($"Storage:ConnectionString must be set when Storage:Provider is {provider}.");
        }
        var certificates = SiloCertificates.Read(configuration);
        if (!IPAddress.IsLoopback(host) && (string.IsNullOrEmpty(apiToken) || certificates is null))
        {
            var missing = new List<string>();
            if (string.IsNullOrEmpty(apiToken))
            {
                missing.Add("Security:ApiToken must be set (it guards the HTTP API)");
            }
            if (certificates is null)
            {
                missing.Add("Security:Certificate and Security:CaCertificate must be set (mutual TLS on the silo and gateway ports)");
            }
            throw new SiloConfigurationException($"Silo:Host {host} is reachable beyond this machine: {string.Join("; ", missing)}; or bind to 127.0.0.1.");
        }

        return new SiloSettings
        {
            Host = host,
            AdvertisedAddress = Advertised(host),
            SiloPort = siloPort,
            GatewayPort = gatewayPort,
            HttpPort = httpPort,
            ClusterId = clusterId,
            StorageProvider = provider,
            ConnectionString = connectionString,
            ApiToken = apiToken,
            Certificates = certificates,
            ProbeTimeout = probeTimeout,
            NumMissedProbesLimit = missedProbes,
            NumProbedSilos = probedSilos,
            TableRefreshPeriod = tableRefresh,
            IAmAlivePeriod = iAmAlivePeriod,
            IAmAliveTimeout = iAmAliveTimeout,
            CollectionAge = collectionAge,
            CollectionQuantum = collectionQuantum,
            ResponseTimeout = responseTimeout,
            MinimumReminderPeriod = minimumReminderPeriod,
            ReminderRefreshPeriod = reminderRefresh,
            HandshakeTimeout = handshakeTimeout,
        };
    }

    /// <summary>
    /// Binds each port once and releases it, so that a port in use is reported with its key before Orleans or Kestrel
    /// fail on it with a message that names neither.
    /// </summary>
    public void ThrowIfPortsInUse()
    {
        CheckPort("Silo:SiloPort", SiloPort);
        CheckPort("Silo:GatewayPort", GatewayPort);
        if (HttpPort != 0)
        {
            CheckPort("Silo:HttpPort", HttpPort);
        }
    }

    private void CheckPort(string key, int port)
    {
        try
        {
            using var socket = new Socket(Host.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(Host, port));
            socket.Listen();
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new SiloConfigurationException(PortInUseMessage(key, port), ex);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new SiloConfigurationException($"Silo:Host {Host} cannot be bound on this machine: {ex.Message}", ex);
        }
    }

    internal static string PortInUseMessage(string key, int port)
        => string.Create(CultureInfo.InvariantCulture, $"{key} {port} is already in use (another silo or program listens on it); choose another with --{key}=<port>.");

    // 0.0.0.0 / :: listen everywhere but cannot be advertised to peers: advertise this machine's first usable address.
    private static IPAddress Advertised(IPAddress host)
    {
        if (!host.Equals(IPAddress.Any) && !host.Equals(IPAddress.IPv6Any))
        {
            return host;
        }
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            {
                continue;
            }
            foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
            {
                if (unicast.Address.AddressFamily == host.AddressFamily && !unicast.Address.IsIPv6LinkLocal)
                {
                    return unicast.Address;
                }
            }
        }
        return host.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
    }

    private sealed class Reader(IConfiguration configuration, List<string> failures)
    {
        public IPAddress Address(string key, IPAddress fallback)
        {
            var text = configuration[key];
            if (string.IsNullOrWhiteSpace(text))
            {
                return fallback;
            }
            text = text.Trim();
            if (string.Equals(text, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                return IPAddress.Loopback;
            }
            if (IPAddress.TryParse(text, out var address))
            {
                return address;
            }
            failures.Add($"{key} must be an IP address such as 127.0.0.1 (got '{text}')");
            return fallback;
        }

        public int Port(string key, int fallback, bool allowZero)
        {
            var text = configuration[key];
            if (string.IsNullOrWhiteSpace(text))
            {
                return fallback;
            }
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535 && (allowZero || port > 0))
            {
                return port;
            }
            failures.Add(allowZero ? $"{key} must be a port from 0 to 65535 (got '{text}')" : $"{key} must be a port from 1 to 65535 (got '{text}')");
            return fallback;
        }

        public int Count(string key, int fallback, int minimum)
        {
            var text = configuration[key];
            if (string.IsNullOrWhiteSpace(text))
            {
                return fallback;
            }
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= minimum)
            {
                return value;
            }
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{key} must be an integer >= {minimum} (got '{text}')"));
            return fallback;
        }

        public TimeSpan Positive(string key, TimeSpan fallback)
        {
            var text = configuration[key];
            if (string.IsNullOrWhiteSpace(text))
            {
                return fallback;
            }
            if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value > TimeSpan.Zero)
            {
                return value;
            }
            failures.Add($"{key} must be a time span > 0 such as 00:00:05 (got '{text}')");
            return fallback;
        }
    }
}
