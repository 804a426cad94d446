using System.Globalization;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Hosting;

/// <summary>
/// Once a silo is active, makes sure every janitor partition has its reminder. Idempotent: every silo runs it, the
/// reminder table keeps one reminder per partition.
/// </summary>
internal sealed class JanitorStartupTask(IGrainFactory grains, IOptions<JanitorOptions> options, SessionServices services) : IStartupTask
{
    private const int Attempts = 10;

    public async Task Execute(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Janitors.EnsureStartedAsync(grains, options.Value.Partitions).WaitAsync(cancellationToken);
                return;
            }
            catch (Exception exception) when (exception is not OperationCanceledException && attempt < Attempts)
            {
                // The reminder table may not be reachable yet (a database starting); the silo keeps running.
                SessionLog.JanitorStartFailed(services.JanitorLogger, attempt, exception.Message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5)), cancellationToken);
            }
        }
    }
}

/// <summary>Starts and runs the janitor grains of all partitions.</summary>
public static class Janitors
{
    /// <summary>Makes sure every partition's janitor has its reminder. <paramref name="partitions"/> must equal Janitor:Partitions.</summary>
    public static async Task EnsureStartedAsync(IGrainFactory grainFactory, int partitions)
    {
        ArgumentNullException.ThrowIfNull(grainFactory);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var calls = new Task[partitions];
        for (var partition = 0; partition < partitions; partition++)
        {
            calls[partition] = grainFactory.GetGrain<IJanitorGrain>(partition.ToString(CultureInfo.InvariantCulture)).EnsureStartedAsync();
        }
        await Task.WhenAll(calls);
    }

    /// <summary>Sweeps every partition now; returns how many sessions were expired in all.</summary>
    public static async Task<int> RunAsync(IGrainFactory grainFactory, int partitions)
    {
        ArgumentNullException.ThrowIfNull(grainFactory);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var calls = new Task<int>[partitions];
        for (var partition = 0; partition < partitions; partition++)
        {
            calls[partition] = grainFactory.GetGrain<IJanitorGrain>(partition.ToString(CultureInfo.InvariantCulture)).RunNowAsync();
        }
        var total = 0;
        foreach (var expired in await Task.WhenAll(calls))
        {
            total += expired;
        }
        return total;
    }
}
