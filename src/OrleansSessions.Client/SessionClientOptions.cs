using System.Security.Cryptography.X509Certificates;

namespace OrleansSessions.Client;

/// <summary>How an Orleans client reaches the OrleansSessions cluster; applied by <c>UseOrleansSessions</c>.</summary>
public sealed class SessionClientOptions
{
    /// <summary>The gateway used when none is given: the silo default Silo:Host 127.0.0.1 and Silo:GatewayPort 30000.</summary>
    public const string DefaultGateway = "127.0.0.1:30000";

    /// <summary>The default cluster id, the silos' default Cluster:ClusterId.</summary>
    public const string DefaultClusterId = "dev";

    /// <summary>The Orleans ServiceId of every OrleansSessions silo and client.</summary>
    public const string DefaultServiceId = "orleans-sessions";

    /// <summary>
    /// Static gateway endpoints as "host:port" (see <see cref="GatewayEndpoints.Parse"/>); the client connects to
    /// them and fails over between them. Empty means <see cref="DefaultGateway"/>.
    /// </summary>
    public IList<string> Gateways { get; } = new List<string>();

    /// <summary>The cluster to join; must match the silos' Cluster:ClusterId. Default <see cref="DefaultClusterId"/>.</summary>
    public string ClusterId { get; set; } = DefaultClusterId;

    /// <summary>The Orleans ServiceId. Default <see cref="DefaultServiceId"/>, as on the silos.</summary>
    public string ServiceId { get; set; } = DefaultServiceId;

    /// <summary>
    /// How long the client keeps trying to reach a gateway when it starts. After that, starting the client fails
    /// with Orleans' exception (<c>ConnectionFailedException</c> or <c>SiloUnavailableException</c>), which
    /// <see cref="Sessions.SessionFailure.Classify"/> reports as <see cref="Sessions.SessionFailureKind.Unavailable"/>.
    /// Default 10 seconds; must be &gt; 0.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a grain call waits for its answer (Orleans' <c>ClientMessagingOptions.ResponseTimeout</c>) before it fails
    /// with a <see cref="TimeoutException"/>, which <see cref="Sessions.SessionFailure.Classify"/> reports as
    /// <see cref="Sessions.SessionFailureKind.Unavailable"/>. A call whose message was in flight on the connections of a
    /// silo that died gets no answer at all, so this is how long its caller waits before it can retry. Default 5
    /// seconds (Orleans' own default is 30): every call of a session client is short; must be &gt; 0.
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The CA certificate(s) that issued the silos' certificates (the silos' Security:CaCertificate). When any is
    /// given, the client talks TLS to the gateways and accepts a gateway only if its certificate chains to one of
    /// them (see <see cref="Security.CertificateAuthorityValidator"/>). Empty (the default): plaintext, for silos
    /// without Security:Certificate.
    /// </summary>
    public X509Certificate2Collection CertificateAuthorities { get; } = [];

    /// <summary>
    /// The client's own certificate, with its private key, issued by a CA the silos trust; sent to the gateways,
    /// which refuse a client without one. Needs <see cref="CertificateAuthorities"/>. Load it with
    /// <see cref="Security.CertificateFiles.LoadWithKey"/>.
    /// </summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>
    /// Whether the client's grain calls carry the current <see cref="System.Diagnostics.Activity"/> to the silos
    /// (Orleans' activity propagation), so that a trace started in the caller continues through the grains of silos
    /// that export traces (OpenTelemetry:Endpoint). Adds a call filter; default false.
    /// </summary>
    public bool ActivityPropagation { get; set; }
}
