using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.AspNetCore.Api;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// Applies the limits of the silo's HTTP server (Kestrel) and of its event fan-out, bound from the "Http" and "Sse"
/// sections (<see cref="HttpServerOptions"/>, <see cref="SseLimitsOptions"/>): a cap on concurrent connections below the
/// process's file-descriptor limit, short keep-alive and header timeouts, a small request body, a minimum body data
/// rate, and caps on /api/events subscribers (per silo and per remote address) with a bound on how long a write to one
/// may stall.
/// </summary>
internal static class HttpLimits
{
    /// <summary>Kestrel's own hard limit of the request line; requests between <see cref="MaxRequestTargetLength"/> and it get a JSON 414.</summary>
    public const int KestrelMaxRequestLineSize = 16 * 1024;

    /// <summary>Kestrel's own hard limit of the headers; requests between <see cref="MaxRequestHeadersSize"/> and it get a JSON 431.</summary>
    public const int KestrelMaxRequestHeadersTotalSize = 64 * 1024;

    /// <summary>The longest request target (path and query) answered; longer is 414 uri_too_long.</summary>
    public const int MaxRequestTargetLength = 8 * 1024;

    /// <summary>The largest header block answered; larger is 431 headers_too_large.</summary>
    public const int MaxRequestHeadersSize = 32 * 1024;

    /// <summary>Binds and checks the keys, applies them to Kestrel and the HTTP API. Call once, after Kestrel's Listen.</summary>
    /// <exception cref="SiloConfigurationException">A key is invalid.</exception>
    public static void Configure(WebApplicationBuilder builder)
    {
        var validator = new HostLimitsValidator(builder.Configuration);
        var http = SiloOptionsBinding.AddValidated<HttpServerOptions>(builder.Services, builder.Configuration, HttpServerOptions.SectionName, validator);
        var sse = SiloOptionsBinding.AddValidated<SseLimitsOptions>(builder.Services, builder.Configuration, SseLimitsOptions.SectionName, validator);
        builder.Services.Configure<SessionApiOptions>(o =>
        {
            o.MaxSubscribers = sse.MaxSubscribers;
            o.MaxSubscribersPerAddress = sse.MaxSubscribersPerAddress;
            o.SendTimeout = sse.SendTimeout;
        });
        builder.WebHost.ConfigureKestrel(kestrel => Apply(http, kestrel.Limits));
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

    private static void Apply(HttpServerOptions http, KestrelServerLimits kestrel)
    {
        kestrel.MaxConcurrentConnections = http.MaxConnections;
        kestrel.MaxConcurrentUpgradedConnections = http.MaxConnections;
        kestrel.MaxRequestBodySize = http.MaxRequestBodySize;
        kestrel.KeepAliveTimeout = http.KeepAliveTimeout;
        kestrel.RequestHeadersTimeout = http.RequestHeadersTimeout;
        kestrel.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: http.RequestBodyTimeout);
        kestrel.MaxRequestLineSize = KestrelMaxRequestLineSize;
        kestrel.MaxRequestHeadersTotalSize = KestrelMaxRequestHeadersTotalSize;
    }
}
