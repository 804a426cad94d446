using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// Closes a connection to one of the silo's Orleans ports (the gateway, or the silo-to-silo port) that has not sent
/// Orleans' connection preamble within <see cref="Timeout"/> of being accepted, so that silent sockets cannot hold
/// Gateway:MaxConnections or Silo:MaxPeerConnections for ever (Orleans 10.4.2 waits for the preamble without a bound).
/// Two pieces of Orleans connection middleware (<see cref="SiloConnectionOptions"/>): <see cref="Accepted"/> starts
/// the clock ahead of TLS; <see cref="AwaitPreamble"/>, after TLS, waits until the whole preamble is buffered, without
/// consuming it, and hands the connection to Orleans. So the silo port sends its own preamble only after the peer's
/// (Orleans peers send theirs at once, unprompted): a silent probe learns nothing of the cluster. Closings are logged
/// at most once per <see cref="LogInterval"/>.
/// </summary>
internal sealed partial class HandshakeTimeout(string port, TimeSpan timeout, TimeProvider time, ILogger logger)
{
    /// <summary>The default of Silo:HandshakeTimeout, Orleans' own bound on opening a connection (ConnectionOptions.OpenConnectionTimeout).</summary>
    public static readonly TimeSpan DefaultTimeout = ConnectionOptions.DEFAULT_OPENCONNECTION_TIMEOUT;

    /// <summary>The shortest time between two closing log lines of one port.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    // Orleans' ConnectionPreambleHelper: a 4-byte little-endian length, then at most this many bytes of preamble.
    private const int LengthPrefix = sizeof(int);
    private const int MaxPreambleLength = 1024;

    private readonly LogEvery _closings = new(LogInterval, time);

    public string Port { get; } = port;

    public TimeSpan Timeout { get; } = timeout;

    /// <summary>
    /// Starts the clock of every inbound connection; call before TLS is configured
    /// (<see cref="SiloTls.UseClusterTls"/>), so that the bound counts the TLS handshake too.
    /// </summary>
    public static void StartClock(ISiloBuilder silo)
        => silo.Configure<SiloConnectionOptions>(options =>
        {
            options.ConfigureGatewayInboundConnection(builder => builder.Use(next => Accepted(next, TimeProvider.System)));
            options.ConfigureSiloInboundConnection(builder => builder.Use(next => Accepted(next, TimeProvider.System)));
        });

    /// <summary>Installs the preamble wait on both inbound ports; call after TLS is configured, so that it reads plaintext.</summary>
    public static void AwaitPreamble(ISiloBuilder silo, TimeSpan timeout)
        => silo.Services.AddOptions<SiloConnectionOptions>().Configure<ILoggerFactory>((options, loggers) =>
        {
            var logger = loggers.CreateLogger<HandshakeTimeout>();
            var gateway = new HandshakeTimeout("gateway", timeout, TimeProvider.System, logger);
            var peers = new HandshakeTimeout("silo", timeout, TimeProvider.System, logger);
            options.ConfigureGatewayInboundConnection(builder => builder.Use(gateway.Middleware));
            options.ConfigureSiloInboundConnection(builder => builder.Use(peers.Middleware));
        });

    /// <summary>The middleware that notes when a connection was accepted.</summary>
    public static ConnectionDelegate Accepted(ConnectionDelegate next, TimeProvider time) => context =>
    {
        context.Features.Set(new AcceptedAt(time.GetTimestamp()));
        return next(context);
    };

    /// <summary>The middleware that waits for the preamble until the bound and closes the connection when it passes.</summary>
    public ConnectionDelegate Middleware(ConnectionDelegate next) => async context =>
    {
        var accepted = context.Features.Get<AcceptedAt>()?.Timestamp ?? time.GetTimestamp();
        var remaining = Timeout - time.GetElapsedTime(accepted);
        bool buffered;
        using (var deadline = new CancellationTokenSource(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, time))
        {
            buffered = await WaitForPreambleAsync(context, deadline.Token).ConfigureAwait(false);
        }
        if (!buffered)
        {
            NoteClosed();
            // Returning without calling the rest of the pipeline makes Orleans close the connection.
            context.Abort(new ConnectionAbortedException($"No Orleans handshake within {Timeout} on the {Port} port."));
            return;
        }
        await next(context).ConfigureAwait(false);
    };

    /// <summary>
    /// Whether the preamble came within the deadline. True also when the peer ended the connection or sent a length
    /// Orleans refuses: Orleans' own preamble reading then fails as it always did.
    /// </summary>
    private static async Task<bool> WaitForPreambleAsync(ConnectionContext context, CancellationToken deadline)
    {
        var input = context.Transport.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(deadline).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (result.IsCompleted || result.IsCanceled || IsComplete(buffer))
                {
                    // Nothing consumed: Orleans reads the preamble itself.
                    input.AdvanceTo(buffer.Start);
                    return true;
                }
                // Examined all, consumed nothing: the next read waits for more bytes.
                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Whether <paramref name="buffer"/> holds a whole preamble, or a length prefix Orleans refuses.</summary>
    internal static bool IsComplete(ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < LengthPrefix)
        {
            return false;
        }
        Span<byte> prefix = stackalloc byte[LengthPrefix];
        buffer.Slice(0, LengthPrefix).CopyTo(prefix);
        var length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        return length is < 0 or > MaxPreambleLength || buffer.Length >= LengthPrefix + length;
    }

    private void NoteClosed()
    {
        if (_closings.Count(out var closed))
        {
            LogClosed(logger, closed, Port, Timeout.ToString("c", CultureInfo.InvariantCulture), LogInterval.TotalSeconds.ToString(CultureInfo.InvariantCulture));
        }
    }

    [LoggerMessage(EventId = 1312, EventName = "HandshakesTimedOut", Level = LogLevel.Warning,
        Message = "Closed {Count} connection(s) on the {Port} port without an Orleans handshake within Silo:HandshakeTimeout {Timeout} (logged at most every {Seconds} s)")]
    private static partial void LogClosed(ILogger logger, long count, string port, string timeout, string seconds);

    private sealed record AcceptedAt(long Timestamp);
}
