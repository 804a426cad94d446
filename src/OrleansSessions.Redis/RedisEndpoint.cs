using StackExchange.Redis;

namespace OrleansSessions.Redis;

/// <summary>What error messages name of a Redis configuration: its endpoints ("host:port, ..."), never the password.</summary>
internal static class RedisEndpoint
{
    public static string Describe(ConfigurationOptions options)
        => options.EndPoints.Count == 0 ? "(no endpoint)" : string.Join(", ", options.EndPoints.Select(e => Format(e)));

    private static string Format(System.Net.EndPoint endpoint) => endpoint switch
    {
        System.Net.DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        System.Net.IPEndPoint ip => ip.ToString(),
        _ => endpoint.ToString() ?? "?",
    };

    /// <summary>The message on one line (the silo host prints a start failure as one line).</summary>
    public static string OneLine(string message)
        => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
