using Orleans.Storage;

namespace OrleansSessions.PostgreSql;

/// <summary>Options of the PostgreSQL grain storage that holds session and user state (named by the storage name).</summary>
public sealed class PostgreSqlGrainStorageOptions : IStorageProviderSerializerOptions
{
    /// <summary>The default of <see cref="MaxGroupSize"/>.</summary>
    public const int DefaultMaxGroupSize = 256;

    /// <summary>How state is serialized.</summary>
    /// <value>Orleans' serializer keyed by the storage name if one is registered, else the silo's default
    /// <see cref="IGrainStorageSerializer"/>, as for Orleans' own providers.</value>
    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = null!;

    /// <summary>The default of <see cref="MaxGroupsInFlight"/>.</summary>
    public const int DefaultMaxGroupsInFlight = 2;

    /// <summary>The most reads, writes and clears one transaction holds.</summary>
    /// <value>256. Operations beyond it wait for the next transaction.</value>
    public int MaxGroupSize { get; set; } = DefaultMaxGroupSize;

    /// <summary>The most groups (transactions) committing at once, each on a connection of its own.</summary>
    /// <value>2. The server flushes the commits of concurrent groups together; no two groups hold the same row. Fewer groups
    /// in flight make larger groups (less CPU per write); more overlap more commits when the disk is slow.</value>
    public int MaxGroupsInFlight { get; set; } = DefaultMaxGroupsInFlight;
}
