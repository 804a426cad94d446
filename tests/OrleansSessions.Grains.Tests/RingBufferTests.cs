using OrleansSessions.Grains.Silos;

namespace OrleansSessions.Grains.Tests;

public sealed class RingBufferTests
{
    [Fact]
    public void Items_read_oldest_first_until_the_buffer_fills()
    {
        var ring = new RingBuffer<int>(3);
        Assert.Empty(ring.ToArray());
        ring.Add(1);
        ring.Add(2);

        Assert.Equal(2, ring.Count);
        Assert.Equal([1, 2], ring.ToArray());
        Assert.Equal(2, ring[1]);
    }

    [Fact]
    public void Adding_to_a_full_buffer_overwrites_the_oldest()
    {
        var ring = new RingBuffer<int>(3);
        for (var i = 1; i <= 7; i++)
        {
            ring.Add(i);
        }

        Assert.Equal(3, ring.Count);
        Assert.Equal([5, 6, 7], ring.ToArray());
        Assert.Equal(5, ring[0]);
        Assert.Equal(7, ring[2]);
    }

    [Fact]
    public void Replace_last_changes_only_the_newest_item()
    {
        var ring = new RingBuffer<string>(2);
        Assert.Throws<InvalidOperationException>(() => ring.ReplaceLast("x"));
        ring.Add("a");
        ring.Add("b");
        ring.Add("c");

        ring.ReplaceLast("C");

        Assert.Equal(["b", "C"], ring.ToArray());
    }

    [Fact]
    public void An_index_outside_the_items_throws()
    {
        var ring = new RingBuffer<int>(4);
        ring.Add(1);

        Assert.Throws<ArgumentOutOfRangeException>(() => ring[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => ring[-1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingBuffer<int>(0));
    }
}
