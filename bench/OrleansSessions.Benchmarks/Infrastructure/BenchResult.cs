using System.Text.Json.Serialization;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>One measured target next to the baseline measured in the same run. <see cref="Pass"/> is null for figures without a goal.</summary>
internal sealed record BenchResult
{
    [JsonPropertyName("target")]
    public required string Target { get; init; }

    [JsonPropertyName("value")]
    public double Value { get; init; }

    [JsonPropertyName("unit")]
    public required string Unit { get; init; }

    [JsonPropertyName("goal")]
    public string Goal { get; init; } = "";

    [JsonPropertyName("baseline")]
    public string Baseline { get; init; } = "";

    [JsonPropertyName("baselineValue")]
    public double? BaselineValue { get; init; }

    [JsonPropertyName("pass")]
    public bool? Pass { get; init; }

    [JsonPropertyName("note")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Note { get; init; }
}

[JsonSerializable(typeof(BenchResult))]
[JsonSerializable(typeof(List<BenchResult>))]
// A figure that could not be measured (NaN) or did not finish (infinity) is written as "NaN" / "Infinity" rather
// than failing the step that measured it.
[JsonSourceGenerationOptions(WriteIndented = false, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
