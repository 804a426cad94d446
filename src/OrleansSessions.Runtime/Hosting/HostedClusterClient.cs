using OrleansSessions.Runtime.Events;

namespace OrleansSessions.Runtime.Hosting;

/// <summary>The cluster client of code hosted in the silo (HTTP endpoints, benchmarks): calls go straight to the runtime.</summary>
internal sealed class HostedClusterClient(SiloRuntimeClient runtimeClient, EventHub events, IServiceProvider services) : IClusterClient
{
    public IServiceProvider ServiceProvider => services;

    public TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey
        => runtimeClient.GetGrain<TGrainInterface>(key);

    public ValueTask<IAsyncDisposable> SubscribeAsync<TEvent>(string topic, Func<TEvent, ValueTask> handler, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(events.Subscribe(topic, handler));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
