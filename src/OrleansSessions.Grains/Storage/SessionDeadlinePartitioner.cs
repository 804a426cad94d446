namespace OrleansSessions.Grains.Storage;

/// <summary>Maps a session to its janitor partition.</summary>
public static class SessionDeadlinePartitioner
{
    /// <summary>StableHash(sessionId) % partitions: the same on every silo and across restarts.</summary>
    public static int GetPartition(string sessionId, int partitions)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        return (int)(StableHash(sessionId) % (uint)partitions);
    }

    /// <summary>FNV-1a over the UTF-16 code units, then a murmur3 finalizer: independent of process, platform and .NET version.</summary>
    internal static uint StableHash(string value)
    {
        uint hash = 2166136261;
        foreach (var c in value)
        {
            hash = (hash ^ (uint)(c & 0xFF)) * 16777619;
            hash = (hash ^ (uint)(c >> 8)) * 16777619;
        }
        hash ^= hash >> 16;
        hash *= 0x85EBCA6B;
        hash ^= hash >> 13;
        hash *= 0xC2B2AE35;
        hash ^= hash >> 16;
        return hash;
    }
}
