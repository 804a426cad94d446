using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Grains;
using OrleansSessions.Grains.Options;
using OrleansSessions.Runtime.Hosting;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>Once the silo is active, makes sure every janitor partition has its reminder (idempotent across silos).</summary>
internal sealed partial class JanitorStarter(Silo silo, IGrainFactory grains, IOptions<JanitorOptions> options, ILogger<JanitorStarter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await silo.Started.WaitAsync(stoppingToken).ConfigureAwait(false);
            var partitions = options.Value.Partitions;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await JanitorStartup.EnsureJanitorsStartedAsync(grains, partitions).WaitAsync(stoppingToken).ConfigureAwait(false);
                    LogStarted(logger, partitions, options.Value.Period);
                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogRetry(logger, attempt, ex.Message);
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 10)), stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Janitor started: {Partitions} partitions, every {Period}")]
    private static partial void LogStarted(ILogger logger, int partitions, TimeSpan period);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Starting the janitor failed (attempt {Attempt}), retrying: {Reason}")]
    private static partial void LogRetry(ILogger logger, int attempt, string reason);
}
