using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansSessions.Benchmarks.Infrastructure;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>Collects the JSON lines of one run into results/latest.json and results/latest.md and prints every target.</summary>
internal static class Report
{
    public static int Run(Args args)
    {
        var raw = args.Get("raw") ?? throw new ArgumentException("--raw <file> is required");
        var outDir = args.Get("out-dir", "bench/results");
        var mode = args.Get("mode", "?");
        var loads = args.Get("loads", "");
        var failures = args.Get("failures", "");
        var results = File.Exists(raw)
            ? File.ReadAllLines(raw).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize(l, BenchJsonContext.Default.BenchResult)!).ToList()
            : [];
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "latest.json"), JsonSerializer.Serialize(results, new BenchJsonContext(new JsonSerializerOptions { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals }).ListBenchResult) + "\n");

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Benchmark results ({mode})");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Run finished {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC by `bench/run.sh {mode}` at commit {args.Get("commit", "?")}.");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores ({CpuModel()}), {MemoryGiB():F1} GiB, .NET {Environment.Version}; load average before each step: {loads}");
        if (failures.Length > 0)
        {
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"Steps that failed (no figures): {failures}");
        }
        md.AppendLine();
        md.AppendLine("| target | goal | measured | baseline | baseline value | result |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Target} | {(r.Goal.Length == 0 ? "-" : r.Goal)} | {ResultSink.Number(r.Value)} {r.Unit} | {r.Baseline} | {(r.BaselineValue is { } b ? ResultSink.Number(b) : "-")} | {(r.Pass switch { true => "pass", false => "**miss**", null => "info" })} |");
        }
        md.AppendLine();
        md.AppendLine("## Conditions of each figure");
        md.AppendLine();
        foreach (var r in results.Where(r => r.Note is not null))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- **{r.Target}**: {r.Note}");
        }
        File.WriteAllText(Path.Combine(outDir, "latest.md"), md.ToString());

        Console.WriteLine();
        Console.WriteLine($"==== bench/run.sh {mode}: every target ====");
        foreach (var r in results)
        {
            Console.WriteLine(ResultSink.Format(r));
        }
        var misses = results.Count(r => r.Pass == false);
        Console.WriteLine($"{results.Count(r => r.Pass == true)} pass, {misses} miss, {results.Count(r => r.Pass is null)} info{(failures.Length > 0 ? $"; failed steps: {failures}" : "")}");
        Console.WriteLine($"wrote {Path.Combine(outDir, "latest.md")} and {Path.Combine(outDir, "latest.json")}");
        return 0;
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown CPU" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    private static double MemoryGiB()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var kb = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return kb / 1024 / 1024;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }
}
