using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OrleansSessions.Client;

/// <summary>Parses and resolves gateway endpoints written as "host:port" ("127.0.0.1:30000", "silo-1:30000", "[::1]:30000").</summary>
public static class GatewayEndpoints
{
    /// <summary>Splits "host:port" into its host and port.</summary>
    /// <exception cref="FormatException">The text is not host:port with a port in 1..65535; the message names the text.</exception>
    public static (string Host, int Port) Parse(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var colon = endpoint.LastIndexOf(':');
        if (colon <= 0
            || !int.TryParse(endpoint.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
        {
            throw Invalid(endpoint);
        }
        var host = endpoint[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            throw Invalid(endpoint); // an IPv6 address needs brackets: [::1]:30000
        }
        if (host.Length == 0 || host.Any(char.IsWhiteSpace))
        {
            throw Invalid(endpoint);
        }
        return (host, port);
    }

    /// <summary>
    /// Parses "host:port" and resolves the host (an IP address, or a name looked up in DNS, IPv4 preferred) to the
    /// endpoint Orleans' static gateway list needs.
    /// </summary>
    /// <exception cref="FormatException">The text is not host:port.</exception>
    /// <exception cref="ArgumentException">The host name cannot be resolved.</exception>
    public static IPEndPoint Resolve(string endpoint)
    {
        var (host, port) = Parse(endpoint);
        if (IPAddress.TryParse(host, out var address))
        {
            return new IPEndPoint(address, port);
        }
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(host);
        }
        catch (SocketException ex)
        {
            throw new ArgumentException($"Gateway host '{host}' of '{endpoint}' cannot be resolved: {ex.Message}", nameof(endpoint), ex);
        }
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new ArgumentException($"Gateway host '{host}' of '{endpoint}' has no address.", nameof(endpoint));
        return new IPEndPoint(chosen, port);
    }

    private static FormatException Invalid(string endpoint) => new($"Invalid gateway endpoint '{endpoint}': expected host:port.");
}
