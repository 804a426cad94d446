using System.Globalization;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>Starts and runs the janitor grains of all partitions; called by the silo host and the HTTP API.</summary>
public static class JanitorStartup
{
    /// <summary>
    /// Makes sure every partition's janitor has its reminder (idempotent; safe to call from every silo at start).
    /// <paramref name="partitions"/> must equal Janitor:Partitions.
    /// </summary>
    public static async Task EnsureJanitorsStartedAsync(IGrainFactory grainFactory, int partitions)
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
    public static async Task<int> RunJanitorsAsync(IGrainFactory grainFactory, int partitions)
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
