using OrleansSessions.Events;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using OrleansSessions.Invocation;
using OrleansSessions.Messaging;
using OrleansSessions.Serialization;

namespace OrleansSessions.Client;

/// <summary>
/// A client connected to one silo gateway at a time. Calls are multiplexed on that connection; when it
/// drops, calls in flight fail with <see cref="SiloUnavailableException"/> and the next call (or the
/// reconnect loop, when there are subscriptions) connects to the next gateway. Subscriptions are
/// renewed on every new connection.
/// </summary>
public sealed partial class ClusterClient : IClusterClient, IGrainCallInvoker, IMessageHandler
{
    private readonly ClientOptions _options;
    private readonly ILogger _logger;
    private readonly CallbackTable _callbacks;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<IEventSink, byte>> _subscriptions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposing = new();
    private readonly OrderedSender _sender;
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _barriers = new();
    private long _barrierIds;
    private volatile MessageConnection? _connection;
    private int _nextGateway;
    private int _disposed;

    internal ClusterClient(ClientOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _callbacks = new CallbackTable(options.Messaging.ResponseTimeout);
        _nextGateway = Random.Shared.Next(options.Gateways.Count);
        _sender = new OrderedSender(() => ConnectSlowAsync(_disposing.Token));
    }

    /// <inheritdoc />
    public IServiceProvider ServiceProvider { get; } = EmptyServiceProvider.Instance;

    /// <summary>The gateway this client is connected to, or null.</summary>
    public string? ConnectedGateway => _connection is { IsClosed: false } c ? c.RemoteEndPoint : null;

    /// <inheritdoc />
    public TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return GrainInterfaceRegistry.CreateProxy<TGrainInterface>(key, this);
    }

    /// <summary>Connects to a gateway now (otherwise the first call does).</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _sender.EnsureConnectedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<MessageConnection> ConnectSlowAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_connection is { IsClosed: false } existing)
            {
                return existing;
            }
            var deadline = DateTime.UtcNow + _options.ConnectTimeout;
            Exception? last = null;
            var attempt = 0;
            while (true)
            {
                for (var i = 0; i < _options.Gateways.Count; i++)
                {
                    var endpoint = _options.Gateways[(_nextGateway + i) % _options.Gateways.Count];
                    var (host, port) = ClientBuilder.ParseEndpoint(endpoint);
                    try
                    {
                        var (connection, _) = await MessageConnector.ConnectAsync(host, port, ConnectionRole.Client, _options.ClusterId, _options.ApiToken, null,
                            _options.Messaging, _logger, cancellationToken).ConfigureAwait(false);
                        _nextGateway = (_nextGateway + i + 1) % _options.Gateways.Count;
                        _connection = connection;
                        _ = RunConnectionAsync(connection);
                        foreach (var topic in _subscriptions.Keys)
                        {
                            connection.Send(new TopicMessage(MessageKind.Subscribe, topic));
                        }
                        LogConnected(_logger, endpoint);
                        return connection;
                    }
                    catch (SiloUnavailableException ex)
                    {
                        last = ex;
                        if (ex.InnerException is null)
                        {
                            // The gateway answered and refused (token, cluster id): trying again will not help.
                            throw;
                        }
                    }
                }
                if (DateTime.UtcNow >= deadline)
                {
                    throw new SiloUnavailableException($"No gateway reachable ({string.Join(", ", _options.Gateways)}): {last?.Message}", last!);
                }
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(100 * ++attempt, 1000)), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private async Task RunConnectionAsync(MessageConnection connection)
    {
        await Task.Yield();
        await connection.RunAsync(this).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<TResult> InvokeAsync<TResult>(GrainId target, GrainRequest<TResult> request)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var pending = new PendingCall<TResult>();
        var header = RequestHeader.For(target, request, _callbacks.Register(pending), CallChain.NewId());
        _sender.Send(new RequestMessage(header, request, pending));
        return new ValueTask<TResult>(pending.Task);
    }

    /// <inheritdoc />
    public void InvokeOneWay(GrainId target, GrainRequest request)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var header = RequestHeader.For(target, request, 0, CallChain.NewId(), InvokeFlags.OneWay);
        _sender.Send(new RequestMessage(header, request, null));
    }

    /// <inheritdoc />
    public async ValueTask<IAsyncDisposable> SubscribeAsync<TEvent>(string topic, Func<TEvent, ValueTask> handler, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(handler);
        var subscription = new EventSubscription<TEvent>(topic, handler, Unsubscribe, _logger);
        var subscribers = _subscriptions.GetOrAdd(topic, static _ => new());
        var first = subscribers.IsEmpty;
        subscribers[subscription] = 0;
        await _sender.EnsureConnectedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (first)
        {
            _sender.Send(new TopicMessage(MessageKind.Subscribe, topic));
        }
        // A ping behind the subscribe frame: its pong means the gateway has registered the subscription, so no event
        // published after this method returns is missed.
        await BarrierAsync(cancellationToken).ConfigureAwait(false);
        return subscription;
    }

    private async Task BarrierAsync(CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _barrierIds);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _barriers[id] = reached;
        try
        {
            _sender.Send(new PingMessage(MessageKind.Ping, id, "client"));
            await reached.Task.WaitAsync(_options.Messaging.ResponseTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new SiloUnavailableException("The gateway did not confirm the subscription in time.", ex);
        }
        finally
        {
            _barriers.TryRemove(id, out _);
        }
    }

    private void Unsubscribe(IEventSink subscription, string topic)
    {
        if (_subscriptions.TryGetValue(topic, out var subscribers) && subscribers.TryRemove(subscription, out _) && subscribers.IsEmpty)
        {
            _sender.Connection?.Send(new TopicMessage(MessageKind.Unsubscribe, topic));
        }
    }

    void IMessageHandler.OnFrame(MessageConnection connection, MessageKind kind, ReadOnlySpan<byte> payload)
    {
        var reader = new CodecReader(payload);
        switch (kind)
        {
            case MessageKind.Response:
                {
                    var id = (long)reader.ReadVarUInt64();
                    var status = (ResponseStatus)reader.ReadByte();
                    _callbacks.OnResponse(id, status, payload.Slice(reader.Position));
                    break;
                }
            case MessageKind.Event:
                {
                    var topic = reader.ReadString() ?? throw new SerializationException("Event without topic.");
                    _ = reader.ReadBoolean();
                    var body = reader.ReadBytes() ?? throw new SerializationException("Event without payload.");
                    if (_subscriptions.TryGetValue(topic, out var subscribers))
                    {
                        foreach (var subscriber in subscribers.Keys)
                        {
                            subscriber.Post(body);
                        }
                    }
                    break;
                }
            case MessageKind.Pong:
                if (_barriers.TryRemove((long)reader.ReadVarUInt64(), out var barrier))
                {
                    barrier.TrySetResult();
                }
                break;
            case MessageKind.GoAway:
                // The gateway's silo is shutting down: new calls (and subscriptions) go to the next gateway; this
                // connection stays open for the answers of calls already sent, until the silo closes it.
                if (_sender.Detach(connection))
                {
                    Interlocked.CompareExchange(ref _connection, null, connection);
                    LogDraining(_logger, connection.RemoteEndPoint);
                    if (!_subscriptions.IsEmpty && _disposed == 0)
                    {
                        _ = ReconnectAsync();
                    }
                }
                break;
            default:
                throw new ProtocolViolationException($"Unexpected {kind} frame from the gateway.");
        }
    }

    void IMessageHandler.OnClosed(MessageConnection connection, Exception? error)
    {
        _callbacks.FailAll(call => ReferenceEquals(call.Connection, connection),
            new SiloUnavailableException($"The connection to gateway {connection.RemoteEndPoint} closed before the response arrived."));
        foreach (var pair in _barriers)
        {
            if (_barriers.TryRemove(pair.Key, out var barrier))
            {
                barrier.TrySetException(new SiloUnavailableException($"The connection to gateway {connection.RemoteEndPoint} closed."));
            }
        }
        if (_disposed == 0)
        {
            LogDisconnected(_logger, connection.RemoteEndPoint, error?.Message ?? "closed");
            if (!_subscriptions.IsEmpty)
            {
                _ = ReconnectAsync();
            }
        }
    }

    private async Task ReconnectAsync()
    {
        while (_disposed == 0)
        {
            try
            {
                await _sender.EnsureConnectedAsync().ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex)
            {
                LogReconnectFailed(_logger, ex.Message);
                if (ex is SiloUnavailableException { InnerException: null })
                {
                    return; // refused (token, cluster id): retrying cannot help
                }
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _disposing.CancelAsync().ConfigureAwait(false);
        await _sender.CloseAsync().ConfigureAwait(false);
        _callbacks.Dispose();
        _disposing.Dispose();
    }

    private sealed class EmptyServiceProvider : IServiceProvider
    {
        public static readonly EmptyServiceProvider Instance = new();

        public object? GetService(Type serviceType) => null;
    }

    [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "Connected to gateway {Gateway}")]
    private static partial void LogConnected(ILogger logger, string gateway);

    [LoggerMessage(EventId = 801, Level = LogLevel.Warning, Message = "Disconnected from gateway {Gateway}: {Reason}")]
    private static partial void LogDisconnected(ILogger logger, string gateway, string reason);

    [LoggerMessage(EventId = 803, Level = LogLevel.Information, Message = "Gateway {Gateway} is shutting down; new calls go to another gateway")]
    private static partial void LogDraining(ILogger logger, string gateway);

    [LoggerMessage(EventId = 802, Level = LogLevel.Warning, Message = "Reconnect failed: {Reason}")]
    private static partial void LogReconnectFailed(ILogger logger, string reason);

}
