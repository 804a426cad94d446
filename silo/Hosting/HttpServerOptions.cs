using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>The limits of the silo's HTTP server (Kestrel): the "Http" section.</summary>
internal sealed class HttpServerOptions
{
    public const string SectionName = "Http";

    /// <summary>Http:MaxConnections: concurrent HTTP connections; beyond it new connections are closed at once.</summary>
    /// <value>Half of the open-file limit left after <see cref="HttpLimits.DescriptorReserve"/>, at most 10,000 (<see cref="HttpLimits.DefaultMaxConnections"/>).</value>
    public int MaxConnections { get; set; } = HttpLimits.DefaultMaxConnections(HttpLimits.OpenFileLimit());

    /// <summary>Http:MaxRequestBodySize: bytes; a larger body is 413 body_too_large.</summary>
    /// <value>65,536 (64 to 2,147,483,647).</value>
    public long MaxRequestBodySize { get; set; } = 64 * 1024;

    /// <summary>Http:KeepAliveTimeout: an idle keep-alive connection is closed after this long.</summary>
    /// <value>00:00:30 (at least 1 s).</value>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Http:RequestHeadersTimeout: the headers of a request must arrive within this long.</summary>
    /// <value>00:00:10 (at least 1 s).</value>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Http:RequestBodyTimeout: a body must arrive at 240 bytes/s or more once this grace time passed, else 408.</summary>
    /// <value>00:00:05 (at least 2 s: Kestrel checks data rates once a second, a grace time must be longer).</value>
    public TimeSpan RequestBodyTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>The limits of /api/events: the "Sse" section.</summary>
internal sealed class SseLimitsOptions
{
    public const string SectionName = "Sse";

    /// <summary>Sse:MaxSubscribers: open /api/events streams per silo; beyond it 503 too_many_subscribers.</summary>
    /// <value>1,000 (0 or more).</value>
    public int MaxSubscribers { get; set; } = 1_000;

    /// <summary>Sse:MaxSubscribersPerAddress: open /api/events streams per remote address; beyond it 503 too_many_subscribers.</summary>
    /// <value>16 (1 or more).</value>
    public int MaxSubscribersPerAddress { get; set; } = 16;

    /// <summary>Sse:SendTimeout: a write to an /api/events stream that takes longer disconnects its subscriber.</summary>
    /// <value>00:00:30 (at least 1 s).</value>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Gateway:MaxConnections: the "Gateway" section.</summary>
internal sealed class GatewayLimitOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Concurrent connections on the gateway port; beyond it new connections are closed at once.</summary>
    /// <value>A quarter of the open-file limit left after <see cref="HttpLimits.DescriptorReserve"/>, at most 10,000.</value>
    public int MaxConnections { get; set; } = ConnectionLimiter.DefaultGatewayConnections(HttpLimits.OpenFileLimit());
}

/// <summary>Silo:MaxPeerConnections, from the "Silo" section (whose other keys are <see cref="HostEndpointOptions"/>').</summary>
internal sealed class PeerLimitOptions
{
    public const string SectionName = "Silo";

    /// <summary>Concurrent connections on the silo-to-silo port; beyond it new connections are closed at once.</summary>
    /// <value>An eighth of the open-file limit left after <see cref="HttpLimits.DescriptorReserve"/>, at most 1,000.</value>
    public int MaxPeerConnections { get; set; } = ConnectionLimiter.DefaultPeerConnections(HttpLimits.OpenFileLimit());
}

/// <summary>
/// The checks of the Http, Sse, Gateway and Silo:MaxPeerConnections limits; each message names its key and quotes the
/// configured text.
/// </summary>
internal sealed class HostLimitsValidator(IConfiguration configuration)
    : IConfigurationKeyValidator<HttpServerOptions>, IConfigurationKeyValidator<SseLimitsOptions>,
      IConfigurationKeyValidator<GatewayLimitOptions>, IConfigurationKeyValidator<PeerLimitOptions>
{
    private static readonly Dictionary<string, (long Min, long Max)> Numbers = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Http:MaxConnections"] = (1, int.MaxValue),
        ["Http:MaxRequestBodySize"] = (64, int.MaxValue),
        ["Sse:MaxSubscribers"] = (0, int.MaxValue),
        ["Sse:MaxSubscribersPerAddress"] = (1, int.MaxValue),
        ["Gateway:MaxConnections"] = (1, int.MaxValue),
        ["Silo:MaxPeerConnections"] = (1, int.MaxValue),
    };

    private static readonly Dictionary<string, TimeSpan> Durations = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Http:KeepAliveTimeout"] = TimeSpan.FromSeconds(1),
        ["Http:RequestHeadersTimeout"] = TimeSpan.FromSeconds(1),
        ["Http:RequestBodyTimeout"] = TimeSpan.FromSeconds(2),
        ["Sse:SendTimeout"] = TimeSpan.FromSeconds(1),
    };

    public ValidateOptionsResult Validate(string? name, HttpServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Result(
            Number("Http:MaxConnections", options.MaxConnections),
            Number("Http:MaxRequestBodySize", options.MaxRequestBodySize),
            Duration("Http:KeepAliveTimeout", options.KeepAliveTimeout),
            Duration("Http:RequestHeadersTimeout", options.RequestHeadersTimeout),
            Duration("Http:RequestBodyTimeout", options.RequestBodyTimeout));
    }

    public ValidateOptionsResult Validate(string? name, SseLimitsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Result(
            Number("Sse:MaxSubscribers", options.MaxSubscribers),
            Number("Sse:MaxSubscribersPerAddress", options.MaxSubscribersPerAddress),
            Duration("Sse:SendTimeout", options.SendTimeout));
    }

    public ValidateOptionsResult Validate(string? name, GatewayLimitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Result(Number("Gateway:MaxConnections", options.MaxConnections));
    }

    public ValidateOptionsResult Validate(string? name, PeerLimitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Result(Number("Silo:MaxPeerConnections", options.MaxPeerConnections));
    }

    /// <inheritdoc cref="IConfigurationKeyValidator{TOptions}.DescribeInvalid"/>
    public string DescribeInvalid(string key)
    {
        var text = configuration[key];
        // The binder names the key as it was written; the message names it as documented.
        key = Numbers.Keys.Concat(Durations.Keys).FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase)) ?? key;
        if (Numbers.TryGetValue(key, out var range))
        {
            return $"{key} must be a whole number from {range.Min.ToString(CultureInfo.InvariantCulture)} to {range.Max.ToString(CultureInfo.InvariantCulture)} (got '{text}')";
        }
        if (Durations.TryGetValue(key, out var min))
        {
            return $"{key} must be a duration (hh:mm:ss) of at least {min.ToString("c", CultureInfo.InvariantCulture)} (got '{text}')";
        }
        return $"{key} has an invalid value (got '{text}')";
    }

    private string? Number(string key, long value)
    {
        var (min, max) = Numbers[key];
        return value < min || value > max ? DescribeInvalid(key) : null;
    }

    private string? Duration(string key, TimeSpan value) => value < Durations[key] ? DescribeInvalid(key) : null;

    private static ValidateOptionsResult Result(params string?[] failures)
    {
        var failed = failures.OfType<string>().ToList();
        return failed.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failed);
    }
}
