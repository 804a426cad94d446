using System.Globalization;

namespace OrleansSessions.Runtime.Membership;

/// <summary>The identity of one silo process: its host, its silo-to-silo port and its start generation.</summary>
public sealed record SiloAddress(string Host, int Port, long Generation)
{
    /// <summary>A stable hash used to place the silo on the ring.</summary>
    public uint ConsistentHash { get; } = GrainId.StableHash($"{Host}:{Port}@{Generation}");

    /// <summary>Formats as host:port@generation.</summary>
    public override string ToString() => $"{Host}:{Port}@{Generation}";

    /// <summary>Parses the form written by <see cref="ToString"/>.</summary>
    public static SiloAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var at = text.LastIndexOf('@');
        var colon = text.LastIndexOf(':', at < 0 ? text.Length - 1 : at);
        if (at < 0 || colon < 0)
        {
            throw new FormatException($"Invalid silo address '{text}'.");
        }
        return new SiloAddress(
            text[..colon],
            int.Parse(text.AsSpan(colon + 1, at - colon - 1), CultureInfo.InvariantCulture),
            long.Parse(text.AsSpan(at + 1), CultureInfo.InvariantCulture));
    }
}
