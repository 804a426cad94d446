using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Orleans.Streams;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>
/// The silo-wide services of the session grains, resolved once per silo rather than once per activation
/// (a silo may hold a million session activations).
/// </summary>
internal sealed class SessionServices(
    IOptions<SessionOptions> sessionOptions,
    IOptions<JanitorOptions> janitorOptions,
    ISessionDeadlineIndex deadlineIndex,
    ISessionEventLog eventLog,
    IOptions<EventLogOptions> eventLogOptions,
    SessionMetrics metrics,
    ILoggerFactory loggerFactory,
    TimeProvider time,
    IServiceProvider serviceProvider)
{
    /// <summary>How often a failed event publish is logged at most; the others are counted (sessions.events_failed).</summary>
    public static readonly TimeSpan PublishFailureLogInterval = TimeSpan.FromSeconds(10);

    private Task<IAsyncStream<SessionEvent>>? _events;
    private int _shutdownWriteFailures;
    private IGrainStorage? _grainStorage;

    public SessionOptions Options { get; } = sessionOptions.Value;

    public JanitorOptions Janitor { get; } = janitorOptions.Value;

    public ISessionDeadlineIndex DeadlineIndex { get; } = deadlineIndex;

    /// <summary>The durable log of session events.</summary>
    public ISessionEventLog EventLog { get; } = eventLog;

    public EventLogOptions EventLogOptions { get; } = eventLogOptions.Value;

    public SessionMetrics Metrics { get; } = metrics;

    /// <summary>The sessions' grain storage (keyed <see cref="SessionStorage.Name"/>), for records that are not a grain's own state (user pages).</summary>
    public IGrainStorage GrainStorage => _grainStorage ??= serviceProvider.GetRequiredKeyedService<IGrainStorage>(SessionStorage.Name);

    public ILogger SessionLogger { get; } = loggerFactory.CreateLogger("OrleansSessions.Grains.SessionGrain");

    public ILogger UserLogger { get; } = loggerFactory.CreateLogger("OrleansSessions.Grains.UserSessionsGrain");

    public ILogger JanitorLogger { get; } = loggerFactory.CreateLogger("OrleansSessions.Grains.JanitorGrain");

    /// <summary>Which failed event publishes of this silo are logged: one per <see cref="PublishFailureLogInterval"/>.</summary>
    public LogThrottle PublishFailureLog { get; } = new(time, PublishFailureLogInterval);

    /// <summary>True for the first write-behind failure of this silo's shutdown (every live session deactivates at once).</summary>
    public bool IsFirstShutdownWriteFailure() => Interlocked.Increment(ref _shutdownWriteFailures) == 1;

    /// <summary>
    /// The session events stream, one object for the silo. Taken on a thread-pool thread, outside any activation: asked
    /// for inside one, Orleans' stream provider gives that activation a stream directory of its own (a scoped service
    /// with the stream and its producer), which a live session would then hold for its whole life (about 1 KB).
    /// A failure (no such provider) reaches the publisher, and the next publish asks again.
    /// </summary>
    public Task<IAsyncStream<SessionEvent>> EventsAsync()
    {
        var events = _events;
        if (events is null || events.IsFaulted)
        {
            _events = events = Task.Run(() => serviceProvider.GetRequiredKeyedService<IStreamProvider>(SessionStreams.ProviderName)
                .GetStream<SessionEvent>(SessionStreams.Namespace, SessionStreams.EventsKey));
        }
        return events;
    }
}
