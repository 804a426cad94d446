using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace OrleansSessions.Redis;

/// <summary>
/// Connects to Redis at the silo's first lifecycle stage, before Orleans' Redis providers initialize, so that an
/// unreachable server stops the start with one <see cref="RedisUnavailableException"/> naming it.
/// </summary>
internal sealed partial class RedisConnectionStartup(RedisConnection connection, ILogger<RedisConnectionStartup> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle)
        => lifecycle.Subscribe(nameof(RedisConnectionStartup), ServiceLifecycleStage.First, ConnectAsync);

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        await connection.GetAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        LogConnected(logger, connection.Endpoints, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Connected to Redis at {Endpoints} in {ElapsedMs:F0} ms")]
    private static partial void LogConnected(ILogger logger, string endpoints, double elapsedMs);
}
