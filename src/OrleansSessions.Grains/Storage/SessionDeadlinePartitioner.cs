namespace OrleansSessions.Grains.Storage;

/// <summary>Maps a session to its janitor partition.</summary>
public static class SessionDeadlinePartitioner
{
    /// <summary>StableHash(sessionId) % partitions: the same on every silo and across restarts.</summary>
    public static int GetPartition(string sessionId, int partitions)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        return (int)(GrainId.StableHash(sessionId) % (uint)partitions);
    }
}
