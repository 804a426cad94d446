using OrleansSessions.Events;

namespace OrleansSessions;

/// <summary>A connection to a cluster: grain references plus event subscriptions.</summary>
public interface IClusterClient : IGrainFactory, IAsyncDisposable
{
    /// <summary>The services of the process that hosts this client.</summary>
    IServiceProvider ServiceProvider { get; }

    /// <summary>Receives every event published on <paramref name="topic"/> anywhere in the cluster until the subscription is disposed.</summary>
    ValueTask<IAsyncDisposable> SubscribeAsync<TEvent>(string topic, Func<TEvent, ValueTask> handler, CancellationToken cancellationToken = default);
}
