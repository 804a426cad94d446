using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;

namespace OrleansSessions.Grains;

/// <summary>
/// The silo-wide services of the session grains, resolved once per silo rather than once per activation
/// (a silo may hold a million session activations).
/// </summary>
internal sealed class SessionServices : IDisposable
{
    public SessionServices(
        IOptions<SessionOptions> sessionOptions,
        IOptions<JanitorOptions> janitorOptions,
        ISessionDeadlineIndex deadlineIndex,
        SessionMetrics metrics,
        IServiceProvider services)
    {
        Options = sessionOptions.Value;
        Janitor = janitorOptions.Value;
        DeadlineIndex = deadlineIndex;
        Metrics = metrics;
        var loggerFactory = (ILoggerFactory?)services.GetService(typeof(ILoggerFactory)) ?? NullLoggerFactory.Instance;
        SessionLogger = loggerFactory.CreateLogger("OrleansSessions.Grains.SessionGrain");
        UserLogger = loggerFactory.CreateLogger("OrleansSessions.Grains.UserSessionsGrain");
        JanitorLogger = loggerFactory.CreateLogger("OrleansSessions.Grains.JanitorGrain");
        Dormant = new DormantSessions(this, services);
    }

    /// <summary>This silo's dormant sessions (idle live sessions without an activation).</summary>
    public DormantSessions Dormant { get; }

    public SessionOptions Options { get; }

    public JanitorOptions Janitor { get; }

    public ISessionDeadlineIndex DeadlineIndex { get; }

    public SessionMetrics Metrics { get; }

    public ILogger SessionLogger { get; }

    public ILogger UserLogger { get; }

    public ILogger JanitorLogger { get; }

    public void Dispose() => Dormant.Dispose();
}
