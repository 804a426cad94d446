namespace OrleansSessions.Grains.Options;

/// <summary>Session lifetime and per-user policy, bound from the "Sessions" configuration section.</summary>
public sealed class SessionOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Sessions";

    /// <summary>Sessions:IdleTimeout: a session ends after this long without a touch. Default 30 minutes.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Sessions:AbsoluteTimeout: a session ends this long after its creation, however active. Default 8 hours.</summary>
    public TimeSpan AbsoluteTimeout { get; set; } = TimeSpan.FromHours(8);

    /// <summary>
    /// Sessions:WarningBefore: an "expiring" event is published this long before the deadline; zero disables it.
    /// When it is not shorter than the remaining lifetime the warning is published at once. Default 2 minutes.
    /// </summary>
    public TimeSpan WarningBefore { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Sessions:DormantAfter: a live session idle this long gives up its activation and waits in the silo's table of
    /// dormant sessions (its id and wake-up time only) until a call, its warning or its deadline activates it again
    /// from storage; zero keeps every live session activated until it ends. Default 2 minutes.
    /// </summary>
    public TimeSpan DormantAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Sessions:MaxPerUser: the most live sessions one user may have; 0 means unlimited. Default 0.</summary>
    public int MaxPerUser { get; set; }

    /// <summary>Sessions:OverLimit: what happens when MaxPerUser is reached. Default <see cref="OverLimitPolicy.EvictOldest"/>.</summary>
    public OverLimitPolicy OverLimit { get; set; } = OverLimitPolicy.EvictOldest;

    /// <summary>Sessions:HistoryLimit: how many ended sessions each user keeps (newest first). Default 100.</summary>
    public int HistoryLimit { get; set; } = 100;

    /// <summary>Malformed configuration values found while binding; reported by <see cref="SessionOptionsValidator"/>.</summary>
    internal List<string> BindingFailures { get; } = [];

    /// <summary>Overwrites the properties present in the "Sessions" section of <paramref name="configuration"/>.</summary>
    internal void Bind(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var reader = new ConfigurationReader(configuration, SectionName, BindingFailures);
        IdleTimeout = reader.TimeSpan(nameof(IdleTimeout), IdleTimeout);
        AbsoluteTimeout = reader.TimeSpan(nameof(AbsoluteTimeout), AbsoluteTimeout);
        WarningBefore = reader.TimeSpan(nameof(WarningBefore), WarningBefore);
        DormantAfter = reader.TimeSpan(nameof(DormantAfter), DormantAfter);
        MaxPerUser = reader.Int32(nameof(MaxPerUser), MaxPerUser);
        OverLimit = reader.Enum(nameof(OverLimit), OverLimit);
        HistoryLimit = reader.Int32(nameof(HistoryLimit), HistoryLimit);
    }
}
