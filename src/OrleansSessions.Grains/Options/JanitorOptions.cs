namespace OrleansSessions.Grains.Options;

/// <summary>The janitor's schedule and partitioning, bound from the "Janitor" configuration section.</summary>
public sealed class JanitorOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Janitor";

    /// <summary>
    /// Janitor:Period: how often each partition's Orleans reminder sweeps the deadline index. A period below Orleans'
    /// ReminderOptions.MinimumReminderPeriod lowers that minimum to it.
    /// </summary>
    /// <value>Default 5 minutes; must be &gt; 0 and at most <see cref="SessionOptionsValidator.MaxTimerDuration"/> (about 49.7 days).</value>
    public TimeSpan Period { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Janitor:Partitions: how many janitor grains split the session space (keys "0".."Partitions-1"). Every silo must
    /// use the same value, and a durable deadline index must be re-partitioned when it changes.
    /// </summary>
    /// <value>Default 8; from 1 to 4096.</value>
    public int Partitions { get; set; } = 8;

    /// <summary>Janitor:BatchSize: how many due entries one read of the deadline index returns.</summary>
    /// <value>Default 1000; must be &gt; 0.</value>
    public int BatchSize { get; set; } = 1000;

    /// <summary>
    /// Janitor:Window: how far ahead each partition loads the due points (warnings and deadlines) of its sessions from
    /// the deadline index into its queue. A session that goes dormant with a point inside the loaded window tells its
    /// partition; later points are loaded with the next window.
    /// </summary>
    /// <value>Default 1 minute; must be &gt; 0 and at most <see cref="SessionOptionsValidator.MaxTimerDuration"/>.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Janitor:QueueLimit: the most due points one partition holds in memory. A window with more points is loaded in
    /// parts, earliest first.
    /// </summary>
    /// <value>Default 100,000; must be &gt;= <see cref="BatchSize"/>.</value>
    public int QueueLimit { get; set; } = 100_000;
}
