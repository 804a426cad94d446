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
/// This app's one reader of the durable event log (<see cref="ISessionEventLogGrain"/>), made with its IClusterClient
/// (a silo's hosted client once the silo is active, or the app's Orleans client), and its in-process fan-out to the
/// open /api/events connections. The reader follows the log from its head when the app starts; the app's subscription
/// to the live Orleans stream of session events (<see cref="SessionStreams"/>) only wakes it (and feeds the dashboard's
/// recent events), so an event the live stream loses is still sent, from the log, within
/// <see cref="SafetyPollInterval"/>. Each event is filtered by user before it is serialised, and serialised once, as a
/// complete SSE message with its cursor as the message id.
/// </summary>
internal sealed partial class SessionEventHub(IClusterClient client, RecentSessionEvents recent, ILogger<SessionEventHub> logger)
    : IAsyncObserver<SessionEvent>
{
    /// <summary>How often the reader looks at the log when nothing woke it.</summary>
    public static readonly TimeSpan SafetyPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>The events one read of the log asks for.</summary>
    public const int PageSize = 1_000;

    private static readonly byte[] IdPrefix = Encoding.UTF8.GetBytes("id: ");
    private static readonly byte[] DataPrefix = Encoding.UTF8.GetBytes("\ndata: ");
    private static readonly byte[] MessageEnd = Encoding.UTF8.GetBytes("\n\n");

    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private Listener[] _listeners = [];
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private StreamSubscriptionHandle<SessionEvent>? _handle;
    private Task _subscribing = Task.CompletedTask;
    private Task _following = Task.CompletedTask;

    // The position read through in each partition of the log, and its cursor (under _lock).
    private long[] _positions = [];

    /// <summary>Completes once the reader follows the log: every event recorded after it reaches the listeners.</summary>
    public Task Subscribed => _subscribed.Task;

    /// <summary>The log reader, for connections that replay from a cursor before they join.</summary>
    public ISessionEventLogGrain Log => client.GetGrain<ISessionEventLogGrain>(0);

    /// <summary>
    /// Adds a listener for the events of <paramref name="userId"/> (all users when null) from
    /// <paramref name="address"/>, unless <paramref name="maxListeners"/> are listening already, or
    /// <paramref name="maxPerAddress"/> from that address (then null, and <paramref name="addressFull"/> says which);
    /// dispose it to leave.
    /// </summary>
    /// <remarks>A listener receives nothing until it joins the live feed (<see cref="TryJoin"/>).</remarks>
    public Listener? TryListen(string? userId, int capacity, int maxListeners, IPAddress? address, int maxPerAddress, out bool addressFull)
    {
        addressFull = false;
        if (address is { IsIPv4MappedToIPv6: true })
        {
            address = address.MapToIPv4();
        }
        var listener = new Listener(this, userId, address, Channel.CreateBounded<ReadOnlyMemory<byte>>(new BoundedChannelOptions(capacity)
        {
            // A client too slow to read is disconnected when its queue is full (see Offer): the silo never grows, and
            // the client resumes from the last id it got, missing nothing.
            FullMode = BoundedChannelFullMode.Wait,
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
        Wake();
        return Task.CompletedTask;
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken.
        }
    }

    /// <summary>
    /// Joins <paramref name="listener"/> to the live feed after it has read the log through <paramref name="positions"/>
    /// (null: from where the feed is now). False when the feed has sent events the listener has not read yet: it reads
    /// on from the log and tries again. Once joined it gets every event after its positions, each once.
    /// </summary>
    public bool TryJoin(Listener listener, long[]? positions)
    {
        lock (_lock)
        {
            if (positions is null)
            {
                positions = (long[])_positions.Clone();
            }
            else
            {
                if (positions.Length != _positions.Length)
                {
                    return false;
                }
                for (var p = 0; p < positions.Length; p++)
                {
                    if (_positions[p] > positions[p])
                    {
                        return false;
                    }
                }
            }
            listener.From = positions;
            listener.CaughtUp = ReachesAll(_positions, positions);
            listener.Joined = true;
            return true;
        }
    }

    /// <summary>Follows the log from its head: reads what was recorded since the last read and hands it to the joined listeners.</summary>
    private async Task FollowAsync()
    {
        var log = Log;
        string cursor;
        while (true)
        {
            try
            {
                cursor = await log.HeadAsync().ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested)
            {
                LogLogReadFailed(logger, ex.Message);
                if (!await WaitAsync(SafetyPollInterval).ConfigureAwait(false))
                {
                    return;
                }
            }
            if (_stopping.IsCancellationRequested)
            {
                return;
            }
        }
        var start = SessionEventCursor.TryParse(cursor, out var parsed) ? parsed : [];
        lock (_lock)
        {
            _positions = start;
        }
        _subscribed.TrySetResult();
        while (!_stopping.IsCancellationRequested)
        {
            SessionEventPage page;
            try
            {
                page = await log.ReadAsync(cursor, PageSize).ConfigureAwait(false);
            }
            catch (EventCursorExpiredException ex)
            {
                // Not read in time (the app was cut off from the cluster longer than Events:Retention): go on from what is held.
                LogFellBehind(logger, ex.OldestCursor);
                cursor = ex.OldestCursor;
                continue;
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested)
            {
                LogLogReadFailed(logger, ex.Message);
                if (!await WaitAsync(SafetyPollInterval).ConfigureAwait(false))
                {
                    return;
                }
                continue;
            }
            foreach (var item in page.Events)
            {
                Dispatch(item);
            }
            cursor = page.Cursor;
            if (page.Events.Count == 0 && !await WaitAsync(SafetyPollInterval).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Waits for a wake-up or <paramref name="timeout"/>; false when the app is stopping.</summary>
    private async Task<bool> WaitAsync(TimeSpan timeout)
    {
        try
        {
            await _wake.WaitAsync(timeout, _stopping.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Dispatch(SessionEvent item)
    {
        if (!SessionEventCursor.TryParse(item.Cursor, out var positions))
        {
            return;
        }
        ReadOnlyMemory<byte> message = default;
        lock (_lock)
        {
            // One partition moved on: the one this event is in.
            var partition = -1;
            for (var p = 0; p < positions.Length && p < _positions.Length; p++)
            {
                if (positions[p] != _positions[p])
                {
                    partition = p;
                }
            }
            _positions = positions;
            if (partition < 0)
            {
                return;
            }
            foreach (var listener in _listeners)
            {
                if (!listener.Joined
                    || positions[partition] <= listener.From[partition]
                    || (listener.UserId is { } userId && !string.Equals(item.Session.UserId, userId, StringComparison.Ordinal)))
                {
                    continue;
                }
                if (!listener.CaughtUp && !(listener.CaughtUp = ReachesAll(positions, listener.From)))
                {
                    // The listener's replay read some partition further than this reader had when it joined: the
                    // event's own cursor would send it back there (resuming from it would repeat what it replayed).
                    // Its id is the position it has read through in each partition, until this reader passes them all.
                    var through = new long[positions.Length];
                    for (var p = 0; p < through.Length; p++)
                    {
                        through[p] = Math.Max(positions[p], listener.From[p]);
                    }
                    Offer(listener, Serialize(item with { Cursor = SessionEventCursor.Format(through) }));
                    continue;
                }
                if (message.IsEmpty)
                {
                    message = Serialize(item);
                }
                Offer(listener, message);
            }
        }
    }

    /// <summary>Queues a message for a listener; a listener whose queue is full is ended instead of losing events silently.</summary>
    private static void Offer(Listener listener, ReadOnlyMemory<byte> message)
    {
        if (!listener.Events.Writer.TryWrite(message))
        {
            // Its connection ends once it has sent what is queued; the client resumes after the last id it received.
            listener.Events.Writer.TryComplete();
        }
    }

    /// <summary>True when <paramref name="positions"/> is at or past <paramref name="other"/> in every partition.</summary>
    private static bool ReachesAll(long[] positions, long[] other)
    {
        for (var p = 0; p < other.Length; p++)
        {
            if (p >= positions.Length || positions[p] < other[p])
            {
                return false;
            }
        }
        return true;
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex)
    {
        LogStreamError(logger, ex);
        return Task.CompletedTask;
    }

    /// <summary>One SSE message: the event's cursor as its id, the event's JSON as its data.</summary>
    internal static ReadOnlyMemory<byte> Serialize(SessionEvent item)
    {
        var buffer = new MemoryStream(512);
        buffer.Write(IdPrefix);
        buffer.Write(Encoding.UTF8.GetBytes(item.Cursor ?? ""));
        buffer.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            JsonSerializer.Serialize(writer, item, ApiJson.Options);
        }
        buffer.Write(MessageEnd);
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    /// <summary>Subscribes in the background (retrying): the app serves even while the stream's pub-sub storage is not reachable yet.</summary>
    internal void Start()
    {
        _subscribing = Task.Run(SubscribeAsync, CancellationToken.None);
        _following = Task.Run(FollowAsync, CancellationToken.None);
    }

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
        await _following.ConfigureAwait(false);
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

        /// <summary>True once the listener gets the live feed (<see cref="TryJoin"/>).</summary>
        public bool Joined { get; set; }

        /// <summary>The positions the listener had read through when it joined: it gets only events after them.</summary>
        public long[] From { get; set; } = [];

        /// <summary>True once the reader's positions are at or past <see cref="From"/> in every partition: the shared message's id is the listener's cursor.</summary>
        public bool CaughtUp { get; set; }

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

    [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "Reading the session event log failed, retrying: {Reason}")]
    private static partial void LogLogReadFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Warning, Message = "The session event log trimmed events before this app read them (Events:Retention); following on from {Cursor}")]
    private static partial void LogFellBehind(ILogger logger, string cursor);
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
