using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using OrleansSessions.Serialization;

namespace OrleansSessions.Messaging;

/// <summary>Opens outbound connections (client to gateway, silo to silo) and performs the handshake.</summary>
internal static class MessageConnector
{
    /// <summary>Connects, sends the handshake and waits for its acknowledgement. Throws <see cref="SiloUnavailableException"/> when the peer cannot be reached or refuses.</summary>
    public static async Task<(MessageConnection Connection, string? PeerSilo)> ConnectAsync(
        string host, int port, ConnectionRole role, string clusterId, string? token, string? localSilo,
        MessagingOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.HandshakeTimeout);
            await socket.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            var stream = new NetworkStream(socket, ownsSocket: true);
            var pipe = new StreamDuplexPipe(stream);
            var connection = new MessageConnection(pipe, options, logger, $"{host}:{port}");
            await connection.WriteSingleAsync(new HandshakeMessage(role, clusterId, token, localSilo), timeout.Token).ConfigureAwait(false);
            var (kind, payload) = await connection.ReadSingleFrameAsync(timeout.Token).ConfigureAwait(false);
            if (kind != MessageKind.HandshakeAck)
            {
                throw new ProtocolViolationException($"Expected a handshake acknowledgement, got {kind}.");
            }
            var (accepted, reason, peer) = ReadAck(payload);
            if (!accepted)
            {
                await connection.CloseAsync().ConfigureAwait(false);
                throw new SiloUnavailableException($"{host}:{port} refused the connection: {reason}");
            }
            connection.PeerSilo = peer;
            return (connection, peer);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException or ProtocolViolationException or SerializationException)
        {
            socket.Dispose();
            if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            throw new SiloUnavailableException($"Cannot connect to {host}:{port}: {ex.Message}", ex);
        }
    }

    private static (bool Accepted, string? Reason, string? Peer) ReadAck(ReadOnlySpan<byte> payload)
    {
        var reader = new CodecReader(payload);
        return (reader.ReadBoolean(), reader.ReadString(), reader.ReadString());
    }

    private sealed class StreamDuplexPipe(Stream stream) : IDuplexPipe
    {
        public PipeReader Input { get; } = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 65536));

        public PipeWriter Output { get; } = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 65536));
    }
}

/// <summary>The content of a handshake frame.</summary>
internal readonly record struct HandshakeInfo(ConnectionRole Role, string ClusterId, string? Token, string? SiloAddress)
{
    public static HandshakeInfo Read(ReadOnlySpan<byte> payload)
    {
        var reader = new CodecReader(payload);
        var role = (ConnectionRole)reader.ReadByte();
        if (role is not (ConnectionRole.Client or ConnectionRole.Silo))
        {
            throw new SerializationException("Unknown connection role.");
        }
        return new HandshakeInfo(role, reader.ReadString() ?? string.Empty, reader.ReadString(), reader.ReadString());
    }
}
