using System.CommandLine;
using System.Globalization;
using OrleansSessions.Client;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>The options every command takes (--gateway, --json, --token, --cluster-id, --connect-timeout).</summary>
internal sealed class GlobalOptions
{
    public const string TokenVariable = "OrleansSessions__Security__ApiToken";
    public const string ClusterIdVariable = "OrleansSessions__Cluster__ClusterId";

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
        Description = $"The silos' Security:ApiToken (default: ${TokenVariable}). Accepted for compatibility: Orleans gateways take no token, so it is sent to nobody (TLS client certificates come later).",
        Recursive = true,
    };

    public Option<string?> ClusterId { get; } = new("--cluster-id")
    {
        Description = $"The silos' Cluster:ClusterId (default: ${ClusterIdVariable} or {SessionClientOptions.DefaultClusterId}).",
        Recursive = true,
    };

    public Option<double> ConnectTimeout { get; } = NumericOptions.Double("--connect-timeout", null,
        "Seconds to keep trying the gateways before giving up.", 5, v => v is > 0 and <= 3600, "--connect-timeout must be between 0 and 3600 seconds.");

    public void AddTo(RootCommand root)
    {
        ConnectTimeout.Recursive = true;
        root.Add(Gateway);
        root.Add(Json);
        root.Add(Token);
        root.Add(ClusterId);
        root.Add(ConnectTimeout);
    }

    public CliSettings Read(ParseResult parse) => new(
        SplitGateways(parse.GetValue(Gateway)),
        parse.GetValue(Json),
        parse.GetValue(Token) is { Length: > 0 } token ? token : Environment.GetEnvironmentVariable(TokenVariable),
        parse.GetValue(ClusterId) is { Length: > 0 } clusterId ? clusterId : Environment.GetEnvironmentVariable(ClusterIdVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : SessionClientOptions.DefaultClusterId,
        TimeSpan.FromSeconds(parse.GetValue(ConnectTimeout)));

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
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"gateway {string.Join(", ", Gateways)}, cluster {ClusterId}");
}
