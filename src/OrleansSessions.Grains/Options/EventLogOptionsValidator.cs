using Microsoft.Extensions.Options;

namespace OrleansSessions.Grains.Options;

/// <summary>Validates <see cref="EventLogOptions"/>; each failure names its configuration key.</summary>
public sealed class EventLogOptionsValidator : IValidateOptions<EventLogOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, EventLogOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Retention < TimeSpan.FromMinutes(1) || options.Retention > TimeSpan.FromDays(30))
        {
            failures.Add("Events:Retention must be from 00:01:00 to 30.00:00:00");
        }
        if (options.MemoryLimit < 1)
        {
            failures.Add("Events:MemoryLimit must be >= 1");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
