namespace OrleansSessions.Grains.Options;

/// <summary>The janitor's schedule and partitioning, bound from the "Janitor" configuration section.</summary>
public sealed class JanitorOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Janitor";

    /// <summary>Janitor:Period: how often each partition sweeps the deadline index. Default 5 minutes.</summary>
    public TimeSpan Period { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Janitor:Partitions: how many janitor grains split the session space (keys "0".."Partitions-1").
    /// Every silo must use the same value, and a durable deadline index must be re-partitioned when it changes.
    /// Default 8.
    /// </summary>
    public int Partitions { get; set; } = 8;

    /// <summary>Janitor:BatchSize: how many due entries one read of the deadline index returns. Default 1000.</summary>
    public int BatchSize { get; set; } = 1000;

    /// <summary>
    /// Janitor:BulkAfter: how long past its deadline a live session must be before a sweep ends it in bulk, straight
    /// in storage (batched reads and compare-and-swap writes of session and user state), instead of waking its grain.
    /// A session that late has no running activation (its own timer would have ended it), so the bulk end races no one;
    /// if one does exist, the ETag check decides and the loser adopts the stored end. Sessions due more recently,
    /// ended sessions whose row survived, and rows without a session go through the grain. Default 10 seconds.
    /// </summary>
    public TimeSpan BulkAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Malformed configuration values found while binding; reported by <see cref="JanitorOptionsValidator"/>.</summary>
    internal List<string> BindingFailures { get; } = [];

    /// <summary>Overwrites the properties present in the "Janitor" section of <paramref name="configuration"/>.</summary>
    internal void Bind(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var reader = new ConfigurationReader(configuration, SectionName, BindingFailures);
        Period = reader.TimeSpan(nameof(Period), Period);
        Partitions = reader.Int32(nameof(Partitions), Partitions);
        BatchSize = reader.Int32(nameof(BatchSize), BatchSize);
        BulkAfter = reader.TimeSpan(nameof(BulkAfter), BulkAfter);
    }
}
