using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// The host's own configuration keys (Silo:*, Cluster:*, Storage:*, Security:*, Membership:*, GrainCollection:*,
/// Messaging:*, Reminders:*), bound as options and checked by <see cref="SiloSettingsValidator"/> before the silo is
/// built (and again at start), so that a bad value stops the start with one line naming its key. Sessions:* and Janitor:* belong to the grains and are validated by their options validators.
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

    /// <summary>
    /// Registers the options of the keys (<see cref="HostEndpointOptions"/>, <see cref="HostClusterOptions"/>,
    /// <see cref="HostStorageOptions"/>, <see cref="HostSecurityOptions"/>, <see cref="HostMembershipOptions"/>,
    /// <see cref="HostGrainCollectionOptions"/>, <see cref="HostMessagingOptions"/>, <see cref="HostReminderOptions"/>)
    /// with their validator and ValidateOnStart, and returns them bound and checked now (<see cref="Read"/>).
    /// </summary>
    /// <exception cref="SiloConfigurationException">A key is invalid; the message names it.</exception>
    public static SiloSettings AddTo(IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        var settings = Read(configuration);
        var validator = new SiloSettingsValidator(configuration);
        SiloOptionsBinding.Register<HostEndpointOptions>(services, HostEndpointOptions.SectionName, validator);
        SiloOptionsBinding.Register<HostClusterOptions>(services, HostClusterOptions.SectionName, validator);
        SiloOptionsBinding.Register<HostStorageOptions>(services, HostStorageOptions.SectionName, validator);
        SiloOptionsBinding.Register<HostSecurityOptions>(services, HostSecurityOptions.SectionName, validator);
        SiloOptionsBinding.Register<HostMembershipOptions>(services, HostMembershipOptions.SectionName, validator);
        SiloOptionsBinding.Register<HostGrainCollectionOptions>(services, HostGrainCollectionOptions.SectionName, validator);
        SiloOptionsBinding.Register<HostMessagingOptions>(services, HostMessagingOptions.SectionName, validator);
        SiloOptionsBinding.Register<HostReminderOptions>(services, HostReminderOptions.SectionName, validator);
        services.AddSingleton(settings);
        return settings;
    }

    /// <summary>
    /// Binds the keys with the options binder and checks them, then what must hold before the host is built (the storage
    /// provider and its connection string, the certificates, a host reachable from other machines only with a token
    /// and certificates). Throws <see cref="SiloConfigurationException"/> naming the first bad key(s).
    /// </summary>
    public static SiloSettings Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var validator = new SiloSettingsValidator(configuration);
        var failures = new List<string>();
        var endpoint = SiloOptionsBinding.Bind<HostEndpointOptions>(configuration, HostEndpointOptions.SectionName, validator, failures);
        var cluster = SiloOptionsBinding.Bind<HostClusterOptions>(configuration, HostClusterOptions.SectionName, validator, failures);
        var storage = SiloOptionsBinding.Bind<HostStorageOptions>(configuration, HostStorageOptions.SectionName, validator, failures);
        var security = SiloOptionsBinding.Bind<HostSecurityOptions>(configuration, HostSecurityOptions.SectionName, validator, failures);
        var membership = SiloOptionsBinding.Bind<HostMembershipOptions>(configuration, HostMembershipOptions.SectionName, validator, failures);
        var collection = SiloOptionsBinding.Bind<HostGrainCollectionOptions>(configuration, HostGrainCollectionOptions.SectionName, validator, failures);
        var messaging = SiloOptionsBinding.Bind<HostMessagingOptions>(configuration, HostMessagingOptions.SectionName, validator, failures);
        var reminders = SiloOptionsBinding.Bind<HostReminderOptions>(configuration, HostReminderOptions.SectionName, validator, failures);
        if (failures.Count > 0)
        {
            throw new SiloConfigurationException("Invalid configuration: " + string.Join("; ", failures));
        }

        endpoint.TryGetHostAddress(out var host);
        var clusterId = string.IsNullOrWhiteSpace(cluster.ClusterId) ? "dev" : cluster.ClusterId.Trim();
        var provider = string.IsNullOrWhiteSpace(storage.Provider) ? "memory" : storage.Provider.Trim().ToLowerInvariant();
        if (provider == "postgresql")
        {
            provider = "postgres";
        }
        if (provider is not ("memory" or "postgres" or "redis"))
        {
            throw new SiloConfigurationException($"Storage:Provider '{storage.Provider}' is not supported: use memory, postgres or redis.");
        }
        if (provider is "postgres" or "redis" && string.IsNullOrWhiteSpace(storage.ConnectionString))
        {
            throw new SiloConfigurationException($"Storage:ConnectionString must be set when Storage:Provider is {provider}.");
        }
        var apiToken = security.ApiToken;
        var certificates = SiloCertificates.Read(security);
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
            SiloPort = endpoint.SiloPort,
            GatewayPort = endpoint.GatewayPort,
            HttpPort = endpoint.HttpPort,
            ClusterId = clusterId,
            StorageProvider = provider,
            ConnectionString = storage.ConnectionString,
            ApiToken = apiToken,
            Certificates = certificates,
            ProbeTimeout = membership.ProbeTimeout,
            NumMissedProbesLimit = membership.NumMissedProbesLimit,
            NumProbedSilos = membership.NumProbedSilos,
            TableRefreshPeriod = membership.TableRefreshPeriod,
            IAmAlivePeriod = membership.IAmAlivePeriod,
            IAmAliveTimeout = membership.IAmAliveTimeout,
            CollectionAge = collection.CollectionAge,
            CollectionQuantum = collection.CollectionQuantum,
            ResponseTimeout = messaging.ResponseTimeout,
            MinimumReminderPeriod = reminders.MinimumReminderPeriod,
            ReminderRefreshPeriod = reminders.RefreshPeriod,
            HandshakeTimeout = endpoint.HandshakeTimeout,
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
}
