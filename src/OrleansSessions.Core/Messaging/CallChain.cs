namespace OrleansSessions.Messaging;

/// <summary>Call-chain ids: the id a request carries so that a call back into a waiting grain (A -> B -> A) can enter.</summary>
internal static class CallChain
{
    [ThreadStatic]
    private static long t_next;

    /// <summary>
    /// A new id: a per-thread counter that starts at a random point and jumps to a new one every 2^20 ids, so ids do
    /// not collide across threads, silos or clients in practice and no cache line is shared between threads.
    /// </summary>
    public static long NewId()
    {
        var next = t_next;
        if (next == 0 || (next & 0xFFFFF) == 0)
        {
            next = Random.Shared.NextInt64(1, long.MaxValue) & ~0xFFFFFL;
        }
        t_next = ++next;
        return next;
    }
}
