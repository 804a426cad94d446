using Orleans.Runtime;
using Orleans.Streams;
using OrleansSessions.Sessions;

namespace OrleansSessions.Client;

/// <summary>Subscribes to the session events every silo publishes (created, expiring, expired, closed, evicted).</summary>
public interface ISessionEvents
{
    /// <summary>
    /// Subscribes <paramref name="onEvent"/> to the session events stream. Returns once Orleans' stream pub-sub has
    /// registered the subscription: every event published after that is delivered. Disposing the result unsubscribes.
    /// </summary>
    /// <param name="onEvent">Called for each event, one at a time, in order per session.</param>
    /// <param name="cancellationToken">Stops waiting for the registration (the subscription is then removed).</param>
    Task<IAsyncDisposable> SubscribeAsync(Func<SessionEvent, Task> onEvent, CancellationToken cancellationToken = default);
}

/// <summary>
/// <see cref="ISessionEvents"/> on the Orleans memory stream <see cref="SessionStreams.Namespace"/>/<see cref="SessionStreams.EventsKey"/>
/// of the provider <see cref="SessionStreams.ProviderName"/>, through a client set up with <c>UseOrleansSessions</c>
/// (or a silo's hosted client: AddOrleansSessions registers the provider there).
/// </summary>
public sealed class SessionEvents : ISessionEvents
{
    private readonly IClusterClient _client;

    /// <summary>Creates the helper over <paramref name="client"/>.</summary>
    public SessionEvents(IClusterClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
    }

    /// <summary>The stream that carries every <see cref="SessionEvent"/>.</summary>
    /// <exception cref="KeyNotFoundException">The client has no stream provider <see cref="SessionStreams.ProviderName"/>.</exception>
    public IAsyncStream<SessionEvent> Stream
        => _client.GetStreamProvider(SessionStreams.ProviderName).GetStream<SessionEvent>(SessionStreams.Namespace, SessionStreams.EventsKey);

    /// <inheritdoc />
    public async Task<IAsyncDisposable> SubscribeAsync(Func<SessionEvent, Task> onEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onEvent);
        cancellationToken.ThrowIfCancellationRequested();
        var subscribing = Stream.SubscribeAsync((e, _) => onEvent(e));
        try
        {
            return new Subscription(await subscribing.WaitAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _ = subscribing.ContinueWith(static t => t.Result.UnsubscribeAsync(), CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default).Unwrap();
            throw;
        }
    }

    private sealed class Subscription(StreamSubscriptionHandle<SessionEvent> handle) : IAsyncDisposable
    {
        private int _disposed;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            try
            {
                await handle.UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OrleansException or ObjectDisposedException or TimeoutException or OperationCanceledException)
            {
                // The client is stopping or the cluster is gone: the subscription goes with it.
            }
        }
    }
}

/// <summary>Subscribes to session events from an <see cref="IClusterClient"/>.</summary>
public static class SessionEventsExtensions
{
    /// <summary>Same as <see cref="SessionEvents.SubscribeAsync"/> over <paramref name="client"/>.</summary>
    public static Task<IAsyncDisposable> SubscribeToSessionEventsAsync(this IClusterClient client, Func<SessionEvent, Task> onEvent, CancellationToken cancellationToken = default)
        => new SessionEvents(client).SubscribeAsync(onEvent, cancellationToken);
}
