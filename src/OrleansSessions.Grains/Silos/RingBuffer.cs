namespace OrleansSessions.Grains.Silos;

/// <summary>
/// The last <see cref="Capacity"/> items added, oldest first (as Orleans' dashboard keeps its history): adding to a
/// full buffer overwrites the oldest. Not thread-safe: the owner serializes access.
/// </summary>
internal sealed class RingBuffer<T>
{
    private readonly T[] _items;
    private int _start;

    public RingBuffer(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _items = new T[capacity];
    }

    public int Capacity => _items.Length;

    public int Count { get; private set; }

    /// <summary>The item <paramref name="index"/> places after the oldest.</summary>
    public T this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return _items[(_start + index) % _items.Length];
        }
    }

    public void Add(T item)
    {
        _items[(_start + Count) % _items.Length] = item;
        if (Count < _items.Length)
        {
            Count++;
        }
        else
        {
            _start = (_start + 1) % _items.Length;
        }
    }

    /// <summary>Replaces the newest item; the buffer must not be empty.</summary>
    public void ReplaceLast(T item)
    {
        if (Count == 0)
        {
            throw new InvalidOperationException("The buffer is empty.");
        }
        _items[(_start + Count - 1) % _items.Length] = item;
    }

    /// <summary>The items, oldest first.</summary>
    public T[] ToArray()
    {
        var items = new T[Count];
        for (var i = 0; i < Count; i++)
        {
            items[i] = _items[(_start + i) % _items.Length];
        }
        return items;
    }
}
