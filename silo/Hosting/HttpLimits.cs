using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.AspNetCore.Api;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// The limits of the silo's HTTP server (Kestrel) and of its event fan-out, read from the "Http" and "Sse" sections:
/// a cap on concurrent connections below the process's file-descriptor limit, short keep-alive and header timeouts,
/// a small request body, a minimum body data rate, and caps on /api/events subscribers (per silo and per remote
/// address) with a bound on how long a write to one may stall.
/// </summary>
internal sealed class HttpLimits
{
    /// <summary>Kestrel's own hard limit of the request line; requests between <see cref="MaxRequestTargetLength"/> and it get a JSON 414.</summary>
    public const int KestrelMaxRequestLineSize = 16 * 1024;

    /// <summary>Kestrel's own hard limit of the headers; requests between <see cref="MaxRequestHeadersSize"/> and it get a JSON 431.</summary>
    public const int KestrelMaxRequestHeadersTotalSize = 64 * 1024;

    /// <summary>The longest request target (path and query) answered; longer is 414 uri_too_long.</summary>
    public const int MaxRequestTargetLength = 8 * 1024;

    /// <summary>The largest header block answered; larger is 431 headers_too_large.</summary>
    public const int MaxRequestHeadersSize = 32 * 1024;

    /// <summary>Http:MaxConnections: concurrent HTTP connections; beyond it new connections are closed at once.</summary>
    public int MaxConnections { get; private init; }

    /// <summary>Http:MaxRequestBodySize: bytes; a larger body is 413 body_too_large.</summary>
    public long MaxRequestBodySize { get; private init; }

    /// <summary>Http:KeepAliveTimeout: an idle keep-alive connection is closed after this long.</summary>
    public TimeSpan KeepAliveTimeout { get; private init; }

    /// <summary>Http:RequestHeadersTimeout: the headers of a request must arrive within this long.</summary>
    public TimeSpan RequestHeadersTimeout { get; private init; }

    /// <summary>Http:RequestBodyTimeout: a body must arrive at 240 bytes/s or more once this grace time passed, else 408.</summary>
    public TimeSpan RequestBodyTimeout { get; private init; }

    /// <summary>Sse:MaxSubscribers: open /api/events streams per silo; beyond it 503 too_many_subscribers.</summary>
    public int MaxSubscribers { get; private init; }

    /// <summary>Sse:MaxSubscribersPerAddress: open /api/events streams per remote address; beyond it 503 too_many_subscribers.</summary>
    public int MaxSubscribersPerAddress { get; private init; }

    /// <summary>Sse:SendTimeout: a write to an /api/events stream that takes longer disconnects its subscriber.</summary>
    public TimeSpan SseSendTimeout { get; private init; }

    /// <summary>Reads and checks the keys, applies them to Kestrel and the HTTP API. Call once, after Kestrel's Listen.</summary>
    /// <exception cref="SiloConfigurationException">A key is invalid.</exception>
    public static void Configure(WebApplicationBuilder builder)
    {
        var limits = Read(builder.Configuration);
        builder.Services.AddSingleton(limits);
        builder.Services.Configure<SessionApiOptions>(o =>
        {
            o.MaxSubscribers = limits.MaxSubscribers;
            o.MaxSubscribersPerAddress = limits.MaxSubscribersPerAddress;
            o.SendTimeout = limits.SseSendTimeout;
        });
        builder.WebHost.ConfigureKestrel(kestrel => limits.Apply(kestrel.Limits));
    }

    /// <summary>
    /// Descriptors left to the silo's own files before the connection caps share the open-file limit: the silo holds
    /// about 330 at start (its assemblies, pipes, sockets and logs), and loads more as it runs.
    /// </summary>
    public const int DescriptorReserve = 512;

    /// <summary>The default of Http:MaxConnections: half of the open-file limit left after <see cref="DescriptorReserve"/>, at most 10,000.</summary>
    public static int DefaultMaxConnections(long? openFileLimit)
        => openFileLimit is { } limit ? (int)Math.Clamp((limit - DescriptorReserve) / 2, 16, 10_000) : 1_000;

    /// <summary>The soft RLIMIT_NOFILE of this process from /proc/self/limits (Linux), or null.</summary>
    public static long? OpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : null;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    private static HttpLimits Read(IConfiguration configuration)
    {
        var failures = new List<string>();
        var limits = new HttpLimits
        {
            MaxConnections = (int)Number(configuration, "Http:MaxConnections", DefaultMaxConnections(OpenFileLimit()), 1, int.MaxValue, failures),
            MaxRequestBodySize = Number(configuration, "Http:MaxRequestBodySize", 64 * 1024, 64, int.MaxValue, failures),
            KeepAliveTimeout = Duration(configuration, "Http:KeepAliveTimeout", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), failures),
            RequestHeadersTimeout = Duration(configuration, "Http:RequestHeadersTimeout", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), failures),
            // Kestrel checks data rates once a second; a grace time must be longer than that.
            RequestBodyTimeout = Duration(configuration, "Http:RequestBodyTimeout", TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2), failures),
            MaxSubscribers = (int)Number(configuration, "Sse:MaxSubscribers", 1_000, 0, int.MaxValue, failures),
            MaxSubscribersPerAddress = (int)Number(configuration, "Sse:MaxSubscribersPerAddress", 16, 1, int.MaxValue, failures),
            SseSendTimeout = Duration(configuration, "Sse:SendTimeout", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), failures),
        };
        if (failures.Count > 0)
        {
            throw new SiloConfigurationException("Invalid configuration: " + string.Join("; ", failures));
        }
        return limits;
    }

    private void Apply(KestrelServerLimits kestrel)
    {
        kestrel.MaxConcurrentConnections = MaxConnections;
        kestrel.MaxConcurrentUpgradedConnections = MaxConnections;
        kestrel.MaxRequestBodySize = MaxRequestBodySize;
        kestrel.KeepAliveTimeout = KeepAliveTimeout;
        kestrel.RequestHeadersTimeout = RequestHeadersTimeout;
        kestrel.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: RequestBodyTimeout);
        kestrel.MaxRequestLineSize = KestrelMaxRequestLineSize;
        kestrel.MaxRequestHeadersTotalSize = KestrelMaxRequestHeadersTotalSize;
    }

    internal static long Number(IConfiguration configuration, string key, long defaultValue, long min, long max, List<string> failures)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return defaultValue;
        }
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            failures.Add($"{key} must be a whole number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)} (got '{text}')");
            return defaultValue;
        }
        return value;
    }

    private static TimeSpan Duration(IConfiguration configuration, string key, TimeSpan defaultValue, TimeSpan min, List<string> failures)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return defaultValue;
        }
        if (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) || value < min)
        {
            failures.Add($"{key} must be a duration (hh:mm:ss) of at least {min.ToString("c", CultureInfo.InvariantCulture)} (got '{text}')");
            return defaultValue;
        }
        return value;
    }
}
