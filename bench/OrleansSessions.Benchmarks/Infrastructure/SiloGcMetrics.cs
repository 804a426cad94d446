using System.Globalization;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>The .NET runtime's GC counters of a silo host process, from its Prometheus scrape endpoint (/metrics, behind Security:ApiToken).</summary>
internal sealed record SiloGcMetrics(double AllocatedBytes, double PauseSeconds, double Gen0Collections)
{
    /// <summary>A Security:ApiToken for a silo host the bench starts (the host asks for at least 16 characters).</summary>
    public static string NewToken() => Convert.ToHexString(Guid.NewGuid().ToByteArray());

    public static async Task<SiloGcMetrics?> ScrapeAsync(SiloProcess silo, string token)
    {
        try
        {
            using var http = silo.Http(token, TimeSpan.FromSeconds(10));
            var text = await http.GetStringAsync("/metrics");
            double allocated = double.NaN, pause = double.NaN, gen0 = double.NaN;
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith("dotnet_gc_heap_total_allocated_bytes_total", StringComparison.Ordinal))
                {
                    allocated = Value(line);
                }
                else if (line.StartsWith("dotnet_gc_pause_time_seconds_total", StringComparison.Ordinal))
                {
                    pause = Value(line);
                }
                else if (line.StartsWith("dotnet_gc_collections_total", StringComparison.Ordinal) && line.Contains("\"gen0\"", StringComparison.Ordinal))
                {
                    gen0 = Value(line);
                }
            }
            return new SiloGcMetrics(allocated, pause, gen0);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or FormatException)
        {
            Console.WriteLine($"  /metrics of {silo.Name}: {ex.GetType().Name}: {ex.Message}");
            return null;
        }
    }

    /// <summary>"x B allocated per call, GC pauses y% of the time, z gen0 GCs/s" between two scrapes.</summary>
    public static string Describe(SiloGcMetrics? before, SiloGcMetrics? after, double calls, TimeSpan elapsed)
        => before is null || after is null ? "silo GC counters not read" : string.Create(CultureInfo.InvariantCulture,
            $"silo: {(after.AllocatedBytes - before.AllocatedBytes) / Math.Max(1, calls):F0} B allocated per call, GC pauses {(after.PauseSeconds - before.PauseSeconds) / elapsed.TotalSeconds:P1} of the time, {(after.Gen0Collections - before.Gen0Collections) / elapsed.TotalSeconds:F1} gen0 GCs/s");

    private static double Value(string line) => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
}
