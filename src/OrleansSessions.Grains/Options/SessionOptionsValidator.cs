using System.Globalization;
using Microsoft.Extensions.Options;

namespace OrleansSessions.Grains.Options;

/// <summary>Validates <see cref="SessionOptions"/>; each failure names its configuration key.</summary>
public sealed class SessionOptionsValidator : IValidateOptions<SessionOptions>
{
    /// <summary>
    /// The longest duration a session setting may have: 0xFFFFFFFE ms (about 49.7 days), the longest due time or
    /// period of a .NET timer, and so of an Orleans grain timer and reminder, which refuse longer ones.
    /// </summary>
    public static readonly TimeSpan MaxTimerDuration = TimeSpan.FromMilliseconds(0xFFFFFFFE);

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
        // The timeouts feed the session's deadline timer: a longer value would be accepted here and then fail every
        // create, after the session was stored. History retention is a row in the deadline index now, with no such
        // limit; it keeps the bound its per-user reminder had, so a configuration valid before is valid still.
        AddIfTooLong(failures, "Sessions:IdleTimeout", options.IdleTimeout);
        AddIfTooLong(failures, "Sessions:AbsoluteTimeout", options.AbsoluteTimeout);
        AddIfTooLong(failures, "Sessions:HistoryRetention", options.HistoryRetention);
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
        if (options.MaxAttributesBytes < 256)
        {
            failures.Add("Sessions:MaxAttributesBytes must be >= 256");
        }
        if (options.ConversationLimit is < 2 or > 10_000)
        {
            // A chat turn is two messages in one append.
            failures.Add("Sessions:ConversationLimit must be from 2 to 10000");
        }
        if (options.MaxConversationBytes < 1024)
        {
            failures.Add("Sessions:MaxConversationBytes must be >= 1024");
        }
        if (options.MaxIdleTimeout is { } maxIdle && maxIdle < TimeSpan.FromSeconds(1))
        {
            failures.Add("Sessions:MaxIdleTimeout must be >= 00:00:01");
        }
        if (options.MaxAbsoluteTimeout is { } maxAbsolute && maxAbsolute < TimeSpan.FromSeconds(1))
        {
            failures.Add("Sessions:MaxAbsoluteTimeout must be >= 00:00:01");
        }
        AddIfTooLong(failures, "Sessions:MaxIdleTimeout", options.MaxIdleTimeout ?? TimeSpan.Zero);
        AddIfTooLong(failures, "Sessions:MaxAbsoluteTimeout", options.MaxAbsoluteTimeout ?? TimeSpan.Zero);
        if (options.DormantAfter < TimeSpan.Zero)
        {
            failures.Add("Sessions:DormantAfter must be >= 0 (0: never)");
        }
        AddIfTooLong(failures, "Sessions:DormantAfter", options.DormantAfter);
        if (options.DataRetention < TimeSpan.Zero)
        {
            failures.Add("Sessions:DataRetention must be >= 0");
        }
        AddIfTooLong(failures, "Sessions:DataRetention", options.DataRetention);
        if (options.ContinueMessages < 0)
        {
            failures.Add("Sessions:ContinueMessages must be >= 0");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Adds "{key} must be &lt;= 49.17:02:47.2940000 ..." when <paramref name="value"/> exceeds <see cref="MaxTimerDuration"/>.</summary>
    internal static void AddIfTooLong(List<string> failures, string key, TimeSpan value)
    {
        if (value > MaxTimerDuration)
        {
            failures.Add($"{key} must be <= {MaxTimerDuration.ToString("c", CultureInfo.InvariantCulture)} (the longest timer Orleans and .NET can set)");
        }
    }
}
