namespace OrleansSessions.PostgreSql;

/// <summary>Settings of the PostgreSQL providers (grain storage, membership, reminders, deadline index).</summary>
public sealed class PostgreSqlOptions
{
    /// <summary>The Npgsql connection string (Storage:ConnectionString). Required.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>The cluster whose membership rows, reminders and deadlines these providers read and write (Cluster:ClusterId).</summary>
    public string ClusterId { get; set; } = "dev";

    /// <summary>The largest number of grain state writes (and, separately, reads) sent in one group-commit round trip.</summary>
    public int MaxWriteBatchSize { get; set; } = 2048;

    /// <summary>How many group-commit round trips each provider keeps in flight at once (each uses one pooled connection).</summary>
    public int MaxConcurrentFlushes { get; set; } = 2;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("Storage:ConnectionString must be set for the PostgreSQL providers.", nameof(ConnectionString));
        }
        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            throw new ArgumentException("Cluster:ClusterId must not be empty.", nameof(ClusterId));
        }
        if (MaxWriteBatchSize < 1)
        {
            throw new ArgumentException("PostgreSqlOptions.MaxWriteBatchSize must be >= 1.", nameof(MaxWriteBatchSize));
        }
        if (MaxConcurrentFlushes < 1)
        {
            throw new ArgumentException("PostgreSqlOptions.MaxConcurrentFlushes must be >= 1.", nameof(MaxConcurrentFlushes));
        }
    }
}
