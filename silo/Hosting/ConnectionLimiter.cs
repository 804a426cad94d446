using System.Globalization;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// Caps the concurrent connections on one of the silo's Orleans ports (the gateway, or the silo-to-silo port): a
/// connection beyond the cap is closed at once, before Orleans reads a byte of it, so a flood of idle connections
/// cannot take the process to its file-descriptor limit (where Orleans' accept loop stops for good). Installed as
/// Orleans connection middleware (<see cref="SiloConnectionOptions"/>), first in the pipeline, ahead of TLS.
/// Refusals are logged at most once per <see cref="LogInterval"/>, with the count since the last line.
/// </summary>
internal sealed partial class ConnectionLimiter(string port, int maxConnections, TimeProvider time, ILogger logger)
{
    /// <summary>The shortest time between two refusal log lines of one port.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly LogEvery _refusals = new(LogInterval, time);
    private int _open;

    public string Port { get; } = port;

    public int MaxConnections { get; } = maxConnections;

    /// <summary>Connections open now through this limiter.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Binds the caps of the Orleans ports (Gateway:MaxConnections, Silo:MaxPeerConnections) and installs the limiters.</summary>
    /// <exception cref="SiloConfigurationException">A key is invalid.</exception>
    public static void AddTo(ISiloBuilder silo, IConfiguration configuration)
    {
        var validator = new HostLimitsValidator(configuration);
        var gateway = SiloOptionsBinding.AddValidated<GatewayLimitOptions>(silo.Services, configuration, GatewayLimitOptions.SectionName, validator).MaxConnections;
        var peers = SiloOptionsBinding.AddValidated<PeerLimitOptions>(silo.Services, configuration, PeerLimitOptions.SectionName, validator).MaxPeerConnections;
        silo.Services.AddOptions<SiloConnectionOptions>().Configure<ILoggerFactory>((options, loggers) =>
        {
            var logger = loggers.CreateLogger<ConnectionLimiter>();
            var gatewayLimiter = new ConnectionLimiter("gateway", gateway, TimeProvider.System, logger);
            var peerLimiter = new ConnectionLimiter("silo", peers, TimeProvider.System, logger);
            options.ConfigureGatewayInboundConnection(builder => builder.Use(gatewayLimiter.Middleware));
            options.ConfigureSiloInboundConnection(builder => builder.Use(peerLimiter.Middleware));
        });
    }

    /// <summary>The default of Gateway:MaxConnections: a quarter of the open-file limit left after <see cref="HttpLimits.DescriptorReserve"/>, at most 10,000.</summary>
    public static int DefaultGatewayConnections(long? openFileLimit)
        => openFileLimit is { } limit ? (int)Math.Clamp((limit - HttpLimits.DescriptorReserve) / 4, 16, 10_000) : 1_000;

    /// <summary>The default of Silo:MaxPeerConnections: an eighth of the open-file limit left after <see cref="HttpLimits.DescriptorReserve"/>, at most 1,000.</summary>
    public static int DefaultPeerConnections(long? openFileLimit)
        => openFileLimit is { } limit ? (int)Math.Clamp((limit - HttpLimits.DescriptorReserve) / 8, 16, 1_000) : 256;

    /// <summary>The connection middleware.</summary>
    public ConnectionDelegate Middleware(ConnectionDelegate next) => async context =>
    {
        if (Interlocked.Increment(ref _open) > MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            NoteRefused();
            // Returning without calling the rest of the pipeline makes Orleans close the connection.
            context.Abort(new ConnectionAbortedException($"The {Port} port's connection limit ({MaxConnections}) is reached."));
            return;
        }
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    };

    private void NoteRefused()
    {
        if (_refusals.Count(out var refused))
        {
            LogRefused(logger, refused, Port, MaxConnections, LogInterval.TotalSeconds.ToString(CultureInfo.InvariantCulture));
        }
    }

    [LoggerMessage(EventId = 1310, EventName = "ConnectionsRefused", Level = LogLevel.Warning,
        Message = "Refused {Count} connection(s) on the {Port} port: its limit of {MaxConnections} concurrent connections is reached (logged at most every {Seconds} s)")]
    private static partial void LogRefused(ILogger logger, long count, string port, int maxConnections, string seconds);
}
