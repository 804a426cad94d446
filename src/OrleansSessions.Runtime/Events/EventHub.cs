using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansSessions.Events;
using OrleansSessions.Messaging;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Messaging;
using OrleansSessions.Serialization;

namespace OrleansSessions.Runtime.Events;

/// <summary>
/// This silo's event hub. A published event is serialized once, delivered to this silo's subscribers
/// (in-silo handlers and subscribed client connections) and sent to every other active silo, which
/// delivers it to its own subscribers. Each subscriber receives the events of one publishing silo in order.
/// </summary>
internal sealed partial class EventHub(MembershipService membership, ConnectionManager connections, LocalSilo local, ILogger<EventHub> logger) : IEventPublisher
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<ILocalSubscription, byte>> _local = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<MessageConnection, ConcurrentDictionary<string, byte>> _connections = new();

    public void Publish<TEvent>(string topic, TEvent evt)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var payload = CodecRegistry.Serialize(evt);
        Deliver(topic, payload);
        foreach (var silo in membership.Ring.Silos)
        {
            if (silo != local.Address)
            {
                connections.Send(silo, new EventMessage(topic, true, payload));
            }
        }
    }

    public void OnRemoteEvent(string topic, byte[] payload, bool forwarded)
    {
        _ = forwarded;
        Deliver(topic, payload);
    }

    private void Deliver(string topic, byte[] payload)
    {
        if (_local.TryGetValue(topic, out var subscribers))
        {
            foreach (var subscriber in subscribers.Keys)
            {
                subscriber.Post(payload);
            }
        }
        foreach (var pair in _connections)
        {
            if (pair.Value.ContainsKey(topic))
            {
                pair.Key.Send(new EventMessage(topic, false, payload));
            }
        }
    }

    public IAsyncDisposable Subscribe<TEvent>(string topic, Func<TEvent, ValueTask> handler)
    {
        var subscription = new LocalSubscription<TEvent>(this, topic, handler, logger);
        _local.GetOrAdd(topic, static _ => new())[subscription] = 0;
        return subscription;
    }

    private void Remove(ILocalSubscription subscription, string topic)
    {
        if (_local.TryGetValue(topic, out var subscribers))
        {
            subscribers.TryRemove(subscription, out _);
        }
    }

    public void AddConnectionSubscription(MessageConnection connection, string topic)
        => _connections.GetOrAdd(connection, static _ => new(StringComparer.Ordinal))[topic] = 0;

    public void RemoveConnectionSubscription(MessageConnection connection, string topic)
    {
        if (_connections.TryGetValue(connection, out var topics))
        {
            topics.TryRemove(topic, out _);
        }
    }

    public void RemoveConnection(MessageConnection connection) => _connections.TryRemove(connection, out _);

    private interface ILocalSubscription
    {
        void Post(byte[] payload);
    }

    /// <summary>An in-silo subscriber: events are decoded and handed to the handler one at a time, in order.</summary>
    private sealed class LocalSubscription<TEvent> : ILocalSubscription, IAsyncDisposable
    {
        private readonly EventHub _hub;
        private readonly string _topic;
        private readonly Func<TEvent, ValueTask> _handler;
        private readonly ILogger _logger;
        private readonly Channel<byte[]> _queue = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Task _pump;

        public LocalSubscription(EventHub hub, string topic, Func<TEvent, ValueTask> handler, ILogger logger)
        {
            _hub = hub;
            _topic = topic;
            _handler = handler;
            _logger = logger;
            _pump = Task.Run(PumpAsync);
        }

        public void Post(byte[] payload) => _queue.Writer.TryWrite(payload);

        private async Task PumpAsync()
        {
            await foreach (var payload in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                try
                {
                    await _handler(CodecRegistry.Deserialize<TEvent>(payload)).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    LogHandlerFailed(_logger, _topic, ex);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _hub.Remove(this, _topic);
            _queue.Writer.TryComplete();
            await _pump.ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "An event handler on {Topic} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string topic, Exception exception);
}
