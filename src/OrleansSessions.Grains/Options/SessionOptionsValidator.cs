using Microsoft.Extensions.Options;

namespace OrleansSessions.Grains.Options;

/// <summary>Validates <see cref="SessionOptions"/>; each failure names its configuration key.</summary>
public sealed class SessionOptionsValidator : IValidateOptions<SessionOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.IdleTimeout <= TimeSpan.Zero)
        {
            failures.Add("Sessions:IdleTimeout must be > 0");
        }
        if (options.AbsoluteTimeout <= TimeSpan.Zero)
        {
            failures.Add("Sessions:AbsoluteTimeout must be > 0");
        }
        if (options.WarningBefore < TimeSpan.Zero)
        {
            failures.Add("Sessions:WarningBefore must be >= 0");
        }
        if (options.MaxPerUser < 0)
        {
            failures.Add("Sessions:MaxPerUser must be >= 0 (0 = unlimited)");
        }
        if (!Enum.IsDefined(options.OverLimit))
        {
            failures.Add("Sessions:OverLimit must be EvictOldest or Reject");
        }
        if (options.HistoryLimit < 1)
        {
            failures.Add("Sessions:HistoryLimit must be >= 1");
        }
        if (options.HistoryRetention < TimeSpan.Zero || (options.HistoryRetention > TimeSpan.Zero && options.HistoryRetention < TimeSpan.FromMinutes(1)))
        {
            failures.Add("Sessions:HistoryRetention must be 0 (keep) or >= 00:01:00");
        }
        if (options.IdempotencyWindow <= TimeSpan.Zero || options.IdempotencyWindow > TimeSpan.FromDays(30))
        {
            failures.Add("Sessions:IdempotencyWindow must be > 0 and <= 30.00:00:00");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
