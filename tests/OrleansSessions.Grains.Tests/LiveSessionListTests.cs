namespace OrleansSessions.Grains.Tests;

/// <summary>The user grain's in-memory index of live ids: order, pages, cursors.</summary>
public sealed class LiveSessionListTests
{
    [Fact]
    public void Ids_keep_their_creation_order_and_their_page_and_a_removed_id_stays_a_cursor()
    {
        var list = new LiveSessionList();
        foreach (var id in new[] { "a", "b", "c", "d" })
        {
            Assert.True(list.Add(id, LiveSessionList.Tail));
        }
        Assert.False(list.Add("b", 3));
        list.Move("a", 0);
        list.Move("b", 0);

        Assert.Equal(0, list.PageOf("a"));
        Assert.Equal(LiveSessionList.Tail, list.PageOf("c"));
        Assert.Equal(0, list.Remove("b"));
        Assert.Null(list.Remove("b"));
        Assert.Null(list.PageOf("b"));
        Assert.Equal(["a", "c", "d"], list.All());
        Assert.Equal("a", list.Oldest);
        Assert.Equal(3, list.Count);

        Assert.True(list.TryFindCursor("b", out var afterB));
        Assert.Equal(["c", "d"], list.After(afterB, 10).Select(e => e.SessionId));
        Assert.Equal(["a"], list.After(-1, 1).Select(e => e.SessionId));
        Assert.False(list.TryFindCursor("zzz", out _));
        Assert.True(list.TryFindCursor("d", out var atD));
        Assert.Empty(list.After(atD, 10));
    }

    [Fact]
    public void Merging_a_stored_header_keeps_every_page_and_the_highest_next_page()
    {
        var mine = new UserSessionsState { Pages = [0, 2], NextPage = 3 };
        var stored = new UserSessionsState { Pages = [1, 2, 4], NextPage = 5 };

        mine.MergeFrom(stored, historyLimit: 10, trimmed: []);

        Assert.Equal([0, 1, 2, 4], mine.Pages);
        Assert.Equal(5, mine.NextPage);
        Assert.False(mine.IsEmpty);
    }
}
