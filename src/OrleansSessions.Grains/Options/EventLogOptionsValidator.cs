using Microsoft.Extensions.Options;

namespace OrleansSessions.Grains.Options;

/// <summary>Validates <see cref="EventLogOptions"/>; each failure names its configuration key.</summary>
public sealed class EventLogOptionsValidator : IValidateOptions<EventLogOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, EventLogOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Retention < TimeSpan.FromMinutes(1) || options.Retention > TimeSpan.FromDays(30)
            ? ValidateOptionsResult.Fail("Events:Retention must be from 00:01:00 to 30.00:00:00")
            : ValidateOptionsResult.Success;
    }
}
