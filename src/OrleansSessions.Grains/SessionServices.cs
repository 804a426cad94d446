using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;

namespace OrleansSessions.Grains;

/// <summary>
/// The silo-wide services of the session grains, resolved once per silo rather than once per activation
/// (a silo may hold a million session activations).
/// </summary>
internal sealed class SessionServices(
    IOptions<SessionOptions> sessionOptions,
    IOptions<JanitorOptions> janitorOptions,
    ISessionDeadlineIndex deadlineIndex,
    SessionMetrics metrics,
    ILoggerFactory loggerFactory)
{
    public SessionOptions Options { get; } = sessionOptions.Value;

    public JanitorOptions Janitor { get; } = janitorOptions.Value;

    public ISessionDeadlineIndex DeadlineIndex { get; } = deadlineIndex;

    public SessionMetrics Metrics { get; } = metrics;

    public ILogger SessionLogger { get; } = loggerFactory.CreateLogger("OrleansSessions.Grains.SessionGrain");

    public ILogger UserLogger { get; } = loggerFactory.CreateLogger("OrleansSessions.Grains.UserSessionsGrain");

    public ILogger JanitorLogger { get; } = loggerFactory.CreateLogger("OrleansSessions.Grains.JanitorGrain");
}
