using System.Globalization;
using System.Text.Json;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>Appends results as JSON lines to the file named by --out (or BENCH_OUT) and echoes each one.</summary>
internal static class ResultSink
{
    private static string? s_path;

    public static void Configure(string? path) => s_path = path;

    public static void Add(BenchResult result)
    {
        Console.WriteLine(Format(result));
        if (result.Note is not null)
        {
            Console.WriteLine("       " + result.Note);
        }
        if (s_path is not null)
        {
            File.AppendAllText(s_path, JsonSerializer.Serialize(result, BenchJsonContext.Default.BenchResult) + "\n");
        }
    }

    public static string Format(BenchResult r)
    {
        var verdict = r.Pass switch { true => "PASS", false => "MISS", null => "info" };
        var baseline = r.BaselineValue is { } b ? $"{Number(b)} ({r.Baseline})" : r.Baseline;
        return string.Create(CultureInfo.InvariantCulture,
            $"[{verdict}] {r.Target}: {Number(r.Value)} {r.Unit}   goal {(r.Goal.Length == 0 ? "-" : r.Goal)}   baseline {baseline}");
    }

    public static string Number(double value)
    {
        if (double.IsNaN(value))
        {
            return "n/a";
        }
        var abs = Math.Abs(value);
        return abs >= 1000 ? value.ToString("N0", CultureInfo.InvariantCulture)
            : abs >= 10 ? value.ToString("0.#", CultureInfo.InvariantCulture)
            : value.ToString("0.###", CultureInfo.InvariantCulture);
    }
}
