using System.CommandLine;
using System.Globalization;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>The options every command takes (--gateway, --json, --token, --cluster-id, --connect-timeout).</summary>
internal sealed class GlobalOptions
{
    public const string TokenVariable = "OrleansSessions__Security__ApiToken";
    public const string ClusterIdVariable = "OrleansSessions__Cluster__ClusterId";

    public Option<string> Gateway { get; } = new("--gateway", "-g")
    {
        Description = "The silo gateway as host:port.",
        DefaultValueFactory = _ => "127.0.0.1:30000",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print machine-readable JSON.",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = $"The silos' Security:ApiToken (default: ${TokenVariable}).",
        Recursive = true,
    };

    public Option<string?> ClusterId { get; } = new("--cluster-id")
    {
        Description = $"The silos' Cluster:ClusterId (default: ${ClusterIdVariable} or dev).",
        Recursive = true,
    };

    public Option<double> ConnectTimeout { get; } = new("--connect-timeout")
    {
        Description = "Seconds to keep trying the gateway before giving up.",
        DefaultValueFactory = _ => 5,
        Recursive = true,
    };

    public void AddTo(RootCommand root)
    {
        root.Add(Gateway);
        root.Add(Json);
        root.Add(Token);
        root.Add(ClusterId);
        root.Add(ConnectTimeout);
        ConnectTimeout.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is <= 0 or > 3600)
            {
                result.AddError("--connect-timeout must be between 0 and 3600 seconds.");
            }
        });
    }

    public CliSettings Read(ParseResult parse) => new(
        parse.GetValue(Gateway) ?? "127.0.0.1:30000",
        parse.GetValue(Json),
        parse.GetValue(Token) is { Length: > 0 } token ? token : Environment.GetEnvironmentVariable(TokenVariable),
        parse.GetValue(ClusterId) is { Length: > 0 } clusterId ? clusterId : Environment.GetEnvironmentVariable(ClusterIdVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : "dev",
        TimeSpan.FromSeconds(parse.GetValue(ConnectTimeout)));
}

/// <summary>The values of the global options for one run.</summary>
internal sealed record CliSettings(string Gateway, bool Json, string? Token, string ClusterId, TimeSpan ConnectTimeout)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"gateway {Gateway}, cluster {ClusterId}");
}
