using System.Net;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Streams;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// This app's one subscription to the Orleans stream of session events (<see cref="SessionStreams"/>), made with its
/// IClusterClient (a silo's hosted client once the silo is active, or the app's Orleans client), and its in-process
/// fan-out to the open /api/events connections.
/// Each event is filtered by user before it is serialised, and serialised once, as a complete SSE message.
/// </summary>
internal sealed partial class SessionEventHub(IClusterClient client, RecentSessionEvents recent, ILogger<SessionEventHub> logger)
    : IAsyncObserver<SessionEvent>
{
    private static readonly byte[] DataPrefix = Encoding.UTF8.GetBytes("data: ");
    private static readonly byte[] MessageEnd = Encoding.UTF8.GetBytes("\n\n");

    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private Listener[] _listeners = [];
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private StreamSubscriptionHandle<SessionEvent>? _handle;
    private Task _subscribing = Task.CompletedTask;

    /// <summary>Completes once the subscription is in place: every event published after it reaches the listeners.</summary>
    public Task Subscribed => _subscribed.Task;

    /// <summary>
    /// Adds a listener for the events of <paramref name="userId"/> (all users when null) from
    /// <paramref name="address"/>, unless <paramref name="maxListeners"/> are listening already, or
    /// <paramref name="maxPerAddress"/> from that address (then null, and <paramref name="addressFull"/> says which);
    /// dispose it to leave.
    /// </summary>
    public Listener? TryListen(string? userId, int capacity, int maxListeners, IPAddress? address, int maxPerAddress, out bool addressFull)
    {
        addressFull = false;
        if (address is { IsIPv4MappedToIPv6: true })
        {
            address = address.MapToIPv4();
        }
        var listener = new Listener(this, userId, address, Channel.CreateBounded<ReadOnlyMemory<byte>>(new BoundedChannelOptions(capacity)
        {
            // A client too slow to read loses its oldest events; the silo never grows.
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = true,
        }));
        lock (_lock)
        {
            if (_listeners.Length >= maxListeners)
            {
                return null;
            }
            if (address is not null)
            {
                var held = _perAddress.GetValueOrDefault(address);
                if (held >= maxPerAddress)
                {
                    addressFull = true;
                    return null;
                }
                _perAddress[address] = held + 1;
            }
            _listeners = [.. _listeners, listener];
        }
        return listener;
    }

    public Task OnNextAsync(SessionEvent item, StreamSequenceToken? token = null)
    {
        recent.Add(item);
        var listeners = Volatile.Read(ref _listeners);
        ReadOnlyMemory<byte> message = default;
        foreach (var listener in listeners)
        {
            if (listener.UserId is { } userId && !string.Equals(item.Session.UserId, userId, StringComparison.Ordinal))
            {
                continue;
            }
            if (message.IsEmpty)
            {
                message = Serialize(item);
            }
            listener.Events.Writer.TryWrite(message);
        }
        return Task.CompletedTask;
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex)
    {
        LogStreamError(logger, ex);
        return Task.CompletedTask;
    }

    private static ReadOnlyMemory<byte> Serialize(SessionEvent item)
    {
        var buffer = new MemoryStream(512);
        buffer.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            JsonSerializer.Serialize(writer, item, ApiJson.Options);
        }
        buffer.Write(MessageEnd);
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    /// <summary>Subscribes in the background (retrying): the app serves even while the stream's pub-sub storage is not reachable yet.</summary>
    internal void Start() => _subscribing = Task.Run(SubscribeAsync, CancellationToken.None);

    /// <summary>Leaves the stream and completes every listener.</summary>
    internal Task StopAsync(CancellationToken cancellationToken) => OnStopping(cancellationToken);

    private async Task SubscribeAsync()
    {
        var stream = client.GetStreamProvider(SessionStreams.ProviderName)
            .GetStream<SessionEvent>(StreamId.Create(SessionStreams.Namespace, SessionStreams.EventsKey));
        for (var attempt = 1; !_stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                _handle = await stream.SubscribeAsync(this).ConfigureAwait(false);
                _subscribed.TrySetResult();
                LogSubscribed(logger);
                return;
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested)
            {
                LogSubscribeRetry(logger, attempt, ex.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5)), _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task OnStopping(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _subscribing.ConfigureAwait(false);
        lock (_lock)
        {
            foreach (var listener in _listeners)
            {
                listener.Events.Writer.TryComplete();
            }
        }
        if (_handle is { } handle)
        {
            try
            {
                // Leaves the stream's pub-sub state clean (it outlives the silo with durable storage).
                await handle.UnsubscribeAsync().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogUnsubscribeFailed(logger, ex.Message);
            }
        }
    }

    private void Remove(Listener listener)
    {
        lock (_lock)
        {
            var before = _listeners.Length;
            _listeners = Array.FindAll(_listeners, l => !ReferenceEquals(l, listener));
            if (_listeners.Length < before && listener.Address is { } address)
            {
                var held = _perAddress.GetValueOrDefault(address) - 1;
                if (held > 0)
                {
                    _perAddress[address] = held;
                }
                else
                {
                    _perAddress.Remove(address);
                }
            }
        }
    }

    /// <summary>One /api/events connection: its filter and its bounded queue of serialised SSE messages.</summary>
    internal sealed class Listener(SessionEventHub hub, string? userId, IPAddress? address, Channel<ReadOnlyMemory<byte>> events) : IDisposable
    {
        public string? UserId { get; } = userId;

        /// <summary>The remote address counted against Sse:MaxSubscribersPerAddress, or null.</summary>
        public IPAddress? Address { get; } = address;

        public Channel<ReadOnlyMemory<byte>> Events { get; } = events;

        public void Dispose()
        {
            hub.Remove(this);
            Events.Writer.TryComplete();
        }
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Information, Message = "Subscribed to the session events stream")]
    private static partial void LogSubscribed(ILogger logger);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "Subscribing to the session events stream failed (attempt {Attempt}), retrying: {Reason}")]
    private static partial void LogSubscribeRetry(ILogger logger, int attempt, string reason);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Leaving the session events stream failed: {Reason}")]
    private static partial void LogUnsubscribeFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Warning, Message = "The session events stream reported an error")]
    private static partial void LogStreamError(ILogger logger, Exception exception);
}

/// <summary>
/// Starts the <see cref="SessionEventHub"/> once every hosted service of the app started (on a silo, once the silo is
/// active; on an app that is only an Orleans client, once the client connected; the hub retries its subscription
/// anyway), and stops it when the app begins to stop, before the silo or client stops.
/// </summary>
internal sealed class SessionEventHubStarter(SessionEventHub hub) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        hub.Start();
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => hub.StopAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
