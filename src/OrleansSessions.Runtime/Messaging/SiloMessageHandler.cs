using Microsoft.Extensions.Logging;
using OrleansSessions.Messaging;
using OrleansSessions.Runtime.Catalog;
using OrleansSessions.Runtime.Events;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Serialization;

namespace OrleansSessions.Runtime.Messaging;

/// <summary>Handles the frames of every connection of this silo, inbound (silos, clients) and outbound.</summary>
internal sealed partial class SiloMessageHandler(
    SiloRuntimeClient runtimeClient,
    EventHub events,
    MembershipService membership,
    LocalSilo local,
    ILogger<SiloMessageHandler> logger) : IMessageHandler
{
    public void OnFrame(MessageConnection connection, MessageKind kind, ReadOnlySpan<byte> payload)
    {
        switch (kind)
        {
            case MessageKind.Request:
                OnRequest(connection, payload);
                break;
            case MessageKind.Response:
                {
                    var reader = new CodecReader(payload);
                    var id = (long)reader.ReadVarUInt64();
                    var status = (ResponseStatus)reader.ReadByte();
                    runtimeClient.Callbacks.OnResponse(id, status, payload.Slice(reader.Position));
                    break;
                }
            case MessageKind.Event:
                {
                    var reader = new CodecReader(payload);
                    var topic = reader.ReadString() ?? throw new SerializationException("Event without topic.");
                    var forwarded = reader.ReadBoolean();
                    var body = reader.ReadBytes() ?? throw new SerializationException("Event without payload.");
                    if (connection.PeerSilo is null)
                    {
                        throw new ProtocolViolationException("Clients cannot publish events.");
                    }
                    events.OnRemoteEvent(topic, body, forwarded);
                    break;
                }
            case MessageKind.Subscribe:
            case MessageKind.Unsubscribe:
                {
                    var reader = new CodecReader(payload);
                    var topic = reader.ReadString() ?? throw new SerializationException("Subscription without topic.");
                    if (kind == MessageKind.Subscribe)
                    {
                        events.AddConnectionSubscription(connection, topic);
                    }
                    else
                    {
                        events.RemoveConnectionSubscription(connection, topic);
                    }
                    break;
                }
            case MessageKind.Ping:
                {
                    var reader = new CodecReader(payload);
                    var id = (long)reader.ReadVarUInt64();
                    connection.Send(new PingMessage(MessageKind.Pong, id, local.Address.ToString()));
                    break;
                }
            case MessageKind.Pong:
                {
                    var reader = new CodecReader(payload);
                    membership.OnPong((long)reader.ReadVarUInt64());
                    break;
                }
            default:
                throw new ProtocolViolationException($"Unexpected {kind} frame.");
        }
    }

    private void OnRequest(MessageConnection connection, ReadOnlySpan<byte> payload)
    {
        var reader = new CodecReader(payload);
        var header = RequestHeader.Read(ref reader);
        var info = GrainInterfaceRegistry.Find(header.MethodInterfaceId);
        var request = info?.RequestFactory(header.MethodId);
        var oneWay = (header.Flags & Invocation.InvokeFlags.OneWay) != 0;
        var responder = oneWay ? null : (IResponder)(connection.HandlerState ??= new ConnectionResponder(connection));
        if (request is null)
        {
            responder?.Respond(ResponseMessage.FromException(header.CorrelationId,
                new GrainCallException(typeof(NotSupportedException).FullName!, $"Unknown method {header.MethodId} of interface {GrainInterfaceRegistry.GetName(header.MethodInterfaceId)}.")));
            return;
        }
        request.ReadArguments(ref reader);
        if (reader.Remaining != 0)
        {
            throw new SerializationException($"{reader.Remaining} trailing bytes after the arguments of {request}.");
        }
        runtimeClient.InvokeForResponder(header, request, responder);
    }

    public void OnClosed(MessageConnection connection, Exception? error)
    {
        events.RemoveConnection(connection);
        runtimeClient.OnConnectionClosed(connection);
        if (error is ProtocolViolationException)
        {
            LogProtocolViolation(logger, connection.RemoteEndPoint, error.Message);
        }
    }

    private sealed class ConnectionResponder(MessageConnection connection) : IResponder
    {
        public void Respond(OutgoingMessage response) => connection.Send(response);
    }

    [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "Closed connection {Remote} after a protocol violation: {Reason}")]
    private static partial void LogProtocolViolation(ILogger logger, string remote, string reason);
}
