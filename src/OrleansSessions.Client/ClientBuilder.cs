using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansSessions.Client;

/// <summary>Builds a <see cref="IClusterClient"/> that talks to silo gateways over TCP.</summary>
public sealed class ClientBuilder
{
    private readonly ClientOptions _options = new();
    private ILoggerFactory _loggerFactory = NullLoggerFactory.Instance;

    /// <summary>Adds gateway endpoints ("host:port").</summary>
    public ClientBuilder UseGateways(params string[] endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        foreach (var endpoint in endpoints)
        {
            _ = ParseEndpoint(endpoint);
            _options.Gateways.Add(endpoint);
        }
        return this;
    }

    /// <summary>Configures the options.</summary>
    public ClientBuilder Configure(Action<ClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(_options);
        return this;
    }

    /// <summary>Logs through <paramref name="loggerFactory"/>.</summary>
    public ClientBuilder UseLogging(ILoggerFactory loggerFactory)
    {
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        return this;
    }

    /// <summary>Creates the client and connects to a gateway. Throws <see cref="SiloUnavailableException"/> when none answers within the connect timeout.</summary>
    public async Task<IClusterClient> ConnectAsync(CancellationToken cancellationToken = default)
    {
        var client = Build();
        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return client;
    }

    /// <summary>Creates the client without connecting; the first call connects.</summary>
    public ClusterClient Build()
    {
        if (_options.Gateways.Count == 0)
        {
            throw new InvalidOperationException("At least one gateway endpoint is required (UseGateways(\"127.0.0.1:30000\")).");
        }
        return new ClusterClient(_options, _loggerFactory.CreateLogger<ClusterClient>());
    }

    /// <summary>Parses "host:port"; throws <see cref="FormatException"/> with the offending text.</summary>
    public static (string Host, int Port) ParseEndpoint(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new FormatException($"Invalid gateway endpoint '{endpoint}': expected host:port.");
        }
        return (endpoint[..colon].Trim('[', ']'), port);
    }
}
