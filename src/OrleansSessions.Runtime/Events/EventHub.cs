using System.Collections.Concurrent;
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
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<IEventSink, byte>> _local = new(StringComparer.Ordinal);
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
        var subscription = new EventSubscription<TEvent>(topic, handler, Remove, logger);
        _local.GetOrAdd(topic, static _ => new())[subscription] = 0;
        return subscription;
    }

    private void Remove(IEventSink subscription, string topic)
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
}
