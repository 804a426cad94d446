using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Messaging;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.Runtime.Membership;

namespace OrleansSessions.Runtime.Messaging;

/// <summary>Kestrel connection handler of the silo-to-silo port: accepts silos only.</summary>
internal sealed class SiloConnectionHandler(InboundConnectionAcceptor acceptor) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) => acceptor.AcceptAsync(connection, ConnectionRole.Silo);
}

/// <summary>Kestrel connection handler of the gateway port: accepts clients only.</summary>
internal sealed class GatewayConnectionHandler(InboundConnectionAcceptor acceptor) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) => acceptor.AcceptAsync(connection, ConnectionRole.Client);
}

/// <summary>Runs the handshake of an inbound connection, then its loops.</summary>
internal sealed partial class InboundConnectionAcceptor(
    SiloMessageHandler handler,
    ConnectionManager connections,
    LocalSilo local,
    IOptions<MessagingOptions> messaging,
    IOptions<SecurityOptions> security,
    ILogger<InboundConnectionAcceptor> logger)
{
    private readonly byte[]? _tokenHash = string.IsNullOrEmpty(security.Value.ApiToken) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(security.Value.ApiToken));

    public async Task AcceptAsync(ConnectionContext context, ConnectionRole expectedRole)
    {
        var remote = context.RemoteEndPoint?.ToString() ?? context.ConnectionId;
        var connection = new MessageConnection(new DuplexPipe(context.Transport.Input, context.Transport.Output), messaging.Value, logger, remote);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed);
            timeout.CancelAfter(messaging.Value.HandshakeTimeout);
            var (kind, payload) = await connection.ReadSingleFrameAsync(timeout.Token).ConfigureAwait(false);
            if (kind != MessageKind.Handshake)
            {
                throw new ProtocolViolationException($"Expected a handshake, got {kind}.");
            }
            var hello = HandshakeInfo.Read(payload);
            var refusal = Validate(hello, expectedRole);
            await connection.WriteSingleAsync(new HandshakeAckMessage(refusal is null, refusal, local.Address.ToString()), timeout.Token).ConfigureAwait(false);
            if (refusal is not null)
            {
                LogRefused(logger, remote, refusal);
                return;
            }
            connection.PeerSilo = hello.SiloAddress;
        }
        catch (Exception ex) when (ex is ProtocolViolationException or Serialization.SerializationException or OperationCanceledException or IOException or InvalidOperationException)
        {
            LogHandshakeFailed(logger, remote, ex.Message);
            return;
        }
        connections.AddInbound(connection);
        try
        {
            await connection.RunAsync(handler).ConfigureAwait(false);
        }
        finally
        {
            connections.RemoveInbound(connection);
        }
    }

    private string? Validate(HandshakeInfo hello, ConnectionRole expectedRole)
    {
        if (hello.Role != expectedRole)
        {
            return expectedRole == ConnectionRole.Client ? "This is the client gateway port." : "This is the silo-to-silo port.";
        }
        if (!string.Equals(hello.ClusterId, local.ClusterId, StringComparison.Ordinal))
        {
            return $"Cluster id mismatch: this silo serves '{local.ClusterId}'.";
        }
        if (_tokenHash is not null)
        {
            var presented = SHA256.HashData(Encoding.UTF8.GetBytes(hello.Token ?? string.Empty));
            if (!CryptographicOperations.FixedTimeEquals(presented, _tokenHash))
            {
                return "Invalid or missing API token.";
            }
        }
        return null;
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Refused connection from {Remote}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "Handshake with {Remote} failed: {Reason}")]
    private static partial void LogHandshakeFailed(ILogger logger, string remote, string reason);
}
