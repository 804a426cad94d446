using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansSessions.Serialization;

namespace OrleansSessions.Events;

/// <summary>Something that receives the serialized events of one topic.</summary>
internal interface IEventSink
{
    /// <summary>Queues an event payload; never blocks.</summary>
    void Post(byte[] payload);
}

/// <summary>
/// One subscriber of a topic (in a silo or a client): payloads are queued as they arrive and decoded and
/// handed to the handler one at a time, in arrival order, so a slow handler never blocks a receive loop.
/// </summary>
internal sealed partial class EventSubscription<TEvent> : IEventSink, IAsyncDisposable
{
    private readonly string _topic;
    private readonly Func<TEvent, ValueTask> _handler;
    private readonly Action<IEventSink, string> _unsubscribe;
    private readonly ILogger _logger;
    private readonly Channel<byte[]> _queue = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _pump;

    public EventSubscription(string topic, Func<TEvent, ValueTask> handler, Action<IEventSink, string> unsubscribe, ILogger logger)
    {
        _topic = topic;
        _handler = handler;
        _unsubscribe = unsubscribe;
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
        _unsubscribe(this, _topic);
        _queue.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "An event handler on {Topic} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string topic, Exception exception);
}
