using Microsoft.Extensions.Options;
using OrleansSessions.Invocation;
using OrleansSessions.Messaging;
using OrleansSessions.Runtime.Catalog;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Messaging;

namespace OrleansSessions.Runtime;

/// <summary>
/// Routes grain calls made on this silo: to a local activation (inline when it is idle, queued
/// otherwise) or over a silo connection to the grain's owner on the hash ring. Requests that arrive
/// for a grain this silo no longer owns are forwarded once more (at most two hops).
/// </summary>
internal sealed class SiloRuntimeClient : IGrainCallInvoker, IGrainFactory, IDisposable
{
    private const int MaxHops = 2;
    private readonly GrainCatalog _catalog;
    private readonly MembershipService _membership;
    private readonly ConnectionManager _connections;
    private readonly LocalSilo _local;

    public SiloRuntimeClient(GrainCatalog catalog, MembershipService membership, ConnectionManager connections, LocalSilo local, IOptions<MessagingOptions> messaging)
    {
        _catalog = catalog;
        _membership = membership;
        _connections = connections;
        _local = local;
        Callbacks = new CallbackTable(messaging.Value.ResponseTimeout);
    }

    public CallbackTable Callbacks { get; }

    public static long NewChainId() => CallChain.NewId();

    public TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey
        => GrainInterfaceRegistry.CreateProxy<TGrainInterface>(key, this);

    public ValueTask<TResult> InvokeAsync<TResult>(GrainId target, GrainRequest<TResult> request)
        => InvokeAsync(target, request, NewChainId());

    public ValueTask<TResult> InvokeAsync<TResult>(GrainId target, GrainRequest<TResult> request, long chainId)
    {
        // A local activation answers without a ring lookup; a ring change deactivates the ones that moved.
        if (_catalog.Find(target) is { } existing && existing.TryInvokeInline(request, chainId, out var inline))
        {
            return inline;
        }
        var owner = OwnerOf(target);
        if (owner is null)
        {
            var activation = _catalog.GetOrCreate(target);
            if (activation.TryInvokeInline(request, chainId, out var result))
            {
                return result;
            }
            var item = new LocalCallWorkItem<TResult>(target, request, this) { ChainId = chainId };
            item.CallbackId = Callbacks.Register(item);
            activation.Enqueue(item);
            return new ValueTask<TResult>(item.Task);
        }
        return SendRemoteAsync(owner, target, request, chainId);
    }

    public void InvokeOneWay(GrainId target, GrainRequest request)
    {
        var owner = OwnerOf(target);
        if (owner is null)
        {
            _catalog.GetOrCreate(target).Enqueue(new OneWayWorkItem(target, request, this) { ChainId = NewChainId() });
            return;
        }
        var header = RequestHeader.For(target, request, 0, NewChainId(), InvokeFlags.OneWay);
        _connections.Send(owner, new RequestMessage(header, request, null));
    }

    /// <summary>Runs a request that arrived over a connection, forwarding it when another silo owns the grain.</summary>
    public void InvokeForResponder(RequestHeader header, GrainRequest request, IResponder? responder)
    {
        var owner = header.Hops >= MaxHops ? null : OwnerOf(header.Target);
        if (owner is null)
        {
            ActivationData activation;
            try
            {
                activation = _catalog.GetOrCreate(header.Target);
            }
            catch (Exception ex)
            {
                responder?.Respond(ResponseMessage.FromException(header.CorrelationId, ex));
                return;
            }
            activation.Enqueue(new RemoteCallWorkItem(header, request, responder, this) { ChainId = header.CallChainId });
            return;
        }
        var forwarded = header;
        forwarded.Hops++;
        if (responder is null)
        {
            _connections.Send(owner, new RequestMessage(forwarded, request, null));
            return;
        }
        var relay = new RelayCall(header.CorrelationId, responder);
        forwarded.CorrelationId = Callbacks.Register(relay);
        _connections.Send(owner, new RequestMessage(forwarded, request, relay));
    }

    /// <summary>The remote owner of <paramref name="target"/>, or null when this silo should host it.</summary>
    private SiloAddress? OwnerOf(GrainId target)
    {
        var owner = _membership.Ring.Owner(target.PlacementHash);
        return owner is null || owner == _local.Address ? null : owner;
    }

    private ValueTask<TResult> SendRemoteAsync<TResult>(SiloAddress owner, GrainId target, GrainRequest<TResult> request, long chainId)
    {
        var pending = new PendingCall<TResult>();
        var header = RequestHeader.For(target, request, Callbacks.Register(pending), chainId);
        _connections.Send(owner, new RequestMessage(header, request, pending));
        return new ValueTask<TResult>(pending.Task);
    }

    /// <summary>Fails the calls that went out on a connection that closed.</summary>
    public void OnConnectionClosed(MessageConnection connection)
        => Callbacks.FailAll(call => ReferenceEquals(call.Connection, connection),
            new SiloUnavailableException($"The connection to {connection.RemoteEndPoint} closed before the response arrived."));

    public void Dispose() => Callbacks.Dispose();

    /// <summary>Relays the response of a forwarded request to the original caller.</summary>
    private sealed class RelayCall(long originalCorrelationId, IResponder responder) : IPendingCall
    {
        public MessageConnection? Connection { get; set; }

        public void OnResponse(ResponseStatus status, ReadOnlySpan<byte> payload)
            => responder.Respond(new ResponseMessage(originalCorrelationId, status, null, payload.ToArray()));

        public void Fail(Exception exception) => responder.Respond(ResponseMessage.FromException(originalCorrelationId, exception));
    }
}
