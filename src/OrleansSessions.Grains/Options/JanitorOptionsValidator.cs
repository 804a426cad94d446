using Microsoft.Extensions.Options;

namespace OrleansSessions.Grains.Options;

/// <summary>Validates <see cref="JanitorOptions"/>; each failure names its configuration key.</summary>
public sealed class JanitorOptionsValidator : IValidateOptions<JanitorOptions>
{
    /// <summary>The most janitor partitions allowed.</summary>
    public const int MaxPartitions = 4096;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, JanitorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Period <= TimeSpan.Zero)
        {
            failures.Add("Janitor:Period must be > 0");
        }
        // The period of each partition's reminder.
        SessionOptionsValidator.AddIfTooLong(failures, "Janitor:Period", options.Period);
        if (options.Partitions < 1 || options.Partitions > MaxPartitions)
        {
            failures.Add($"Janitor:Partitions must be between 1 and {MaxPartitions}");
        }
        if (options.BatchSize < 1)
        {
            failures.Add("Janitor:BatchSize must be > 0");
        }
        if (options.Window <= TimeSpan.Zero)
        {
            failures.Add("Janitor:Window must be > 0");
        }
        SessionOptionsValidator.AddIfTooLong(failures, "Janitor:Window", options.Window);
        if (options.QueueLimit < options.BatchSize)
        {
            failures.Add("Janitor:QueueLimit must be >= Janitor:BatchSize");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
