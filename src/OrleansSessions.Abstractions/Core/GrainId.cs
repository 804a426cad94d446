namespace OrleansSessions;

/// <summary>The identity of a grain: its interface id and its string key.</summary>
public readonly struct GrainId : IEquatable<GrainId>
{
    /// <summary>Creates an identity; <paramref name="key"/> must not be null.</summary>
    public GrainId(int interfaceId, string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        InterfaceId = interfaceId;
        Key = key;
        PlacementHash = ComputeHash(interfaceId, key);
    }

    /// <summary>The stable id of the grain interface (a hash of its full name).</summary>
    public int InterfaceId { get; }

    /// <summary>The grain's key.</summary>
    public string Key { get; }

    /// <summary>A uniform 32-bit hash used to place the grain on the hash ring.</summary>
    public uint PlacementHash { get; }

    /// <summary>True for the default value, which names no grain.</summary>
    public bool IsDefault => Key is null;

    /// <inheritdoc />
    public bool Equals(GrainId other) => InterfaceId == other.InterfaceId && string.Equals(Key, other.Key, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GrainId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => (int)PlacementHash;

    /// <inheritdoc />
    public override string ToString() => $"{GrainInterfaceRegistry.GetName(InterfaceId)}/{Key}";

    /// <summary>Equality.</summary>
    public static bool operator ==(GrainId left, GrainId right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(GrainId left, GrainId right) => !left.Equals(right);

    /// <summary>A stable (process-independent) hash of a string: FNV-1a over UTF-16 code units, then a murmur finalizer.</summary>
    public static uint StableHash(string value)
    {
        uint hash = 2166136261;
        foreach (var c in value)
        {
            hash = (hash ^ (uint)(c & 0xFF)) * 16777619;
            hash = (hash ^ (uint)(c >> 8)) * 16777619;
        }
        return Mix(hash);
    }

    private static uint ComputeHash(int interfaceId, string key) => Mix(StableHash(key) ^ (uint)interfaceId * 0x9E3779B1);

    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6B;
        h ^= h >> 13;
        h *= 0xC2B2AE35;
        h ^= h >> 16;
        return h;
    }
}
