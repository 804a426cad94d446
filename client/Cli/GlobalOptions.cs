using System.CommandLine;
using System.Globalization;
using OrleansSessions.Client;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>The options every command takes (--gateway, --json, --token, --cluster-id, --connect-timeout, --response-timeout, --cert, --key, --cert-password, --ca).</summary>
internal sealed class GlobalOptions
{
    public const string TokenVariable = "OrleansSessions__Security__ApiToken";
    public const string ClusterIdVariable = "OrleansSessions__Cluster__ClusterId";
    public const string CertificateVariable = "ORLEANSSESSIONS_CERT";
    public const string KeyVariable = "ORLEANSSESSIONS_KEY";
    public const string CertificatePasswordVariable = "ORLEANSSESSIONS_CERT_PASSWORD";
    public const string CaVariable = "ORLEANSSESSIONS_CA";

    public Option<string[]> Gateway { get; } = new("--gateway", "-g")
    {
        Description = $"A silo gateway as host:port; repeat it (or separate with commas) for several gateways (default {SessionClientOptions.DefaultGateway}).",
        DefaultValueFactory = _ => [SessionClientOptions.DefaultGateway],
        AllowMultipleArgumentsPerToken = false,
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print machine-readable JSON.",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = $"The silos' Security:ApiToken (default: ${TokenVariable}). Accepted for compatibility: Orleans gateways take no token, so it is sent to nobody (gateways with TLS authenticate the client by --cert).",
        Recursive = true,
    };

    public Option<string?> ClusterId { get; } = new("--cluster-id")
    {
        Description = $"The silos' Cluster:ClusterId (default: ${ClusterIdVariable} or {SessionClientOptions.DefaultClusterId}).",
        Recursive = true,
    };

    public Option<string?> Certificate { get; } = new("--cert")
    {
        Description = $"The client certificate for gateways with TLS: a PEM file (its key in the same file or --key) or a .pfx/.p12 (with --cert-password) (default: ${CertificateVariable}). Needs --ca.",
        Recursive = true,
    };

    public Option<string?> Key { get; } = new("--key")
    {
        Description = $"The PEM private key of --cert, when not in the same file (default: ${KeyVariable}).",
        Recursive = true,
    };

    public Option<string?> CertificatePassword { get; } = new("--cert-password")
    {
        Description = $"The password of a .pfx/.p12 --cert or of an encrypted PEM key (default: ${CertificatePasswordVariable}).",
        Recursive = true,
    };

    public Option<string?> Ca { get; } = new("--ca")
    {
        Description = $"The CA certificate (PEM) that issued the silos' certificates, the silos' Security:CaCertificate (default: ${CaVariable}). Turns TLS on: a gateway is accepted only with a certificate from this CA.",
        Recursive = true,
    };

    public Option<double> ConnectTimeout { get; } = NumericOptions.Double("--connect-timeout", null,
        "Seconds to keep trying the gateways before giving up.", 5, v => v is > 0 and <= 3600, "--connect-timeout must be between 0 and 3600 seconds.");

    public Option<double> ResponseTimeout { get; } = NumericOptions.Double("--response-timeout", null,
        "Seconds a call waits for its answer before it fails as unavailable (exit code 5).", 5, v => v is > 0 and <= 3600, "--response-timeout must be between 0 and 3600 seconds.");

    public void AddTo(RootCommand root)
    {
        ConnectTimeout.Recursive = true;
        ResponseTimeout.Recursive = true;
        root.Add(Gateway);
        root.Add(Json);
        root.Add(Token);
        root.Add(ClusterId);
        root.Add(ConnectTimeout);
        root.Add(ResponseTimeout);
        root.Add(Certificate);
        root.Add(Key);
        root.Add(CertificatePassword);
        root.Add(Ca);
    }

    public CliSettings Read(ParseResult parse) => new(
        SplitGateways(parse.GetValue(Gateway)),
        parse.GetValue(Json),
        parse.GetValue(Token) is { Length: > 0 } token ? token : Environment.GetEnvironmentVariable(TokenVariable),
        parse.GetValue(ClusterId) is { Length: > 0 } clusterId ? clusterId : Environment.GetEnvironmentVariable(ClusterIdVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : SessionClientOptions.DefaultClusterId,
        TimeSpan.FromSeconds(parse.GetValue(ConnectTimeout)))
    {
        ResponseTimeout = TimeSpan.FromSeconds(parse.GetValue(ResponseTimeout)),
        Tls = new CliTls(
            OrEnvironment(parse.GetValue(Certificate), CertificateVariable),
            OrEnvironment(parse.GetValue(Key), KeyVariable),
            OrEnvironment(parse.GetValue(CertificatePassword), CertificatePasswordVariable),
            OrEnvironment(parse.GetValue(Ca), CaVariable)),
    };

    private static string? OrEnvironment(string? value, string variable)
        => value is { Length: > 0 } ? value : Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;

    private static string[] SplitGateways(string[]? values)
    {
        var gateways = (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToArray();
        return gateways.Length == 0 ? [SessionClientOptions.DefaultGateway] : gateways;
    }
}

/// <summary>The values of the global options for one run.</summary>
/// <param name="Gateways">The gateways, as given (validated when connecting).</param>
/// <param name="Json">Machine output.</param>
/// <param name="Token">The token, accepted for compatibility and sent to nobody.</param>
/// <param name="ClusterId">The cluster to join.</param>
/// <param name="ConnectTimeout">How long to keep trying the gateways.</param>
internal sealed record CliSettings(IReadOnlyList<string> Gateways, bool Json, string? Token, string ClusterId, TimeSpan ConnectTimeout)
{
    /// <summary>How long a call waits for its answer (<see cref="SessionClientOptions.ResponseTimeout"/>; 5 s by default).</summary>
    public TimeSpan ResponseTimeout { get; init; } = new SessionClientOptions().ResponseTimeout;

    /// <summary>The certificate files of TLS to the gateways (none by default: plaintext).</summary>
    public CliTls Tls { get; init; } = CliTls.None;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"gateway {string.Join(", ", Gateways)}, cluster {ClusterId}");
}

/// <summary>The certificate files of --cert, --key, --cert-password and --ca (or their environment variables).</summary>
/// <param name="Certificate">The client certificate file, or null.</param>
/// <param name="Key">The PEM key file of the certificate, when not in the same file.</param>
/// <param name="Password">The password of a PKCS#12 certificate or of an encrypted PEM key.</param>
/// <param name="Ca">The CA certificate file; set means TLS.</param>
internal sealed record CliTls(string? Certificate, string? Key, string? Password, string? Ca)
{
    public static CliTls None { get; } = new(null, null, null, null);

    /// <summary>Excludes the password from logs and messages.</summary>
    public override string ToString() => $"cert {Certificate ?? "-"}, key {Key ?? "-"}, ca {Ca ?? "-"}";
}
