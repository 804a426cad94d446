using OrleansSessions.Runtime.Membership;

namespace OrleansSessions.Runtime.Placement;

/// <summary>
/// Consistent hashing over the active silos: each silo takes <see cref="VirtualNodes"/> points on a
/// 32-bit ring; a grain belongs to the first point at or after its <see cref="GrainId.PlacementHash"/>.
/// When a silo leaves, only its grains move; when one joins, it takes a share from each.
/// </summary>
internal sealed class HashRing
{
    public const int VirtualNodes = 30;
    private readonly uint[] _points;
    private readonly SiloAddress[] _owners;

    public HashRing(IReadOnlyList<SiloAddress> silos)
    {
        Silos = silos;
        var nodes = new List<(uint Point, SiloAddress Silo)>(silos.Count * VirtualNodes);
        foreach (var silo in silos)
        {
            for (var i = 0; i < VirtualNodes; i++)
            {
                nodes.Add((GrainId.StableHash($"{silo}#{i}"), silo));
            }
        }
        nodes.Sort(static (a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : string.CompareOrdinal(a.Silo.ToString(), b.Silo.ToString()));
        _points = new uint[nodes.Count];
        _owners = new SiloAddress[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            _points[i] = nodes[i].Point;
            _owners[i] = nodes[i].Silo;
        }
    }

    public static HashRing Empty { get; } = new([]);

    public IReadOnlyList<SiloAddress> Silos { get; }

    public bool IsEmpty => _points.Length == 0;

    /// <summary>The silo owning <paramref name="hash"/>, or null when no silo is active.</summary>
    public SiloAddress? Owner(uint hash)
    {
        if (_points.Length == 0)
        {
            return null;
        }
        var index = Array.BinarySearch(_points, hash);
        if (index < 0)
        {
            index = ~index;
        }
        if (index == _points.Length)
        {
            index = 0;
        }
        return _owners[index];
    }

    /// <summary>The ring ranges (beginExclusive, endInclusive] owned by <paramref name="silo"/>, adjacent ones merged.</summary>
    public List<(uint BeginExclusive, uint EndInclusive)> RangesOf(SiloAddress silo)
    {
        var ranges = new List<(uint, uint)>();
        if (_points.Length == 0)
        {
            return ranges;
        }
        if (Silos.Count == 1)
        {
            ranges.Add((0u, 0u)); // whole ring
            return ranges;
        }
        for (var i = 0; i < _points.Length; i++)
        {
            if (_owners[i] != silo)
            {
                continue;
            }
            var previous = _points[(i - 1 + _points.Length) % _points.Length];
            if (ranges.Count > 0 && ranges[^1].Item2 == previous)
            {
                ranges[^1] = (ranges[^1].Item1, _points[i]);
            }
            else
            {
                ranges.Add((previous, _points[i]));
            }
        }
        return ranges;
    }
}
