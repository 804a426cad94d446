using System.Threading.Channels;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// A group commit: one loop takes every operation pending at that moment (at most <see cref="MaxGroupSize"/>, at most
/// one per row), hands them as one group to the commit delegate (one transaction), and completes each operation only
/// after that delegate returned. No timer: an operation that arrives while a slot is free goes at once; operations that
/// arrive while every slot is committing form the next group. Up to <see cref="MaxGroupsInFlight"/> groups commit at
/// once; a row in a group in flight keeps later operations on it for a later group, in their order, so two groups never
/// lock rows against each other.
/// </summary>
/// <remarks>A commit that throws fails every operation of its group with that exception.</remarks>
internal sealed class GroupCommitQueue<TKey, TOperation> : IAsyncDisposable
    where TKey : notnull
    where TOperation : GroupCommitOperation<TKey>
{
    private readonly Func<IReadOnlyList<TOperation>, Task> _commit;
    private readonly Channel<TOperation> _pending = Channel.CreateUnbounded<TOperation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private long _transactions;
    private int _queued;

    /// <param name="commit">Runs one group as one transaction; fills in the operations' results, throws on failure.</param>
    /// <param name="maxGroupSize">The most operations one group holds.</param>
    /// <param name="maxGroupsInFlight">The most groups committing at once.</param>
    public GroupCommitQueue(Func<IReadOnlyList<TOperation>, Task> commit, int maxGroupSize, int maxGroupsInFlight)
    {
        ArgumentNullException.ThrowIfNull(commit);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxGroupSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxGroupsInFlight, 1);
        _commit = commit;
        MaxGroupSize = maxGroupSize;
        MaxGroupsInFlight = maxGroupsInFlight;
        _loop = Task.Run(RunLoopAsync);
    }

    /// <summary>The most operations one group (one transaction) holds.</summary>
    public int MaxGroupSize { get; }

    /// <summary>The most groups committing at once, each on its own connection.</summary>
    public int MaxGroupsInFlight { get; }

    /// <summary>Groups run so far (each one transaction, committed or failed): what the tests count.</summary>
    public long Transactions => Interlocked.Read(ref _transactions);

    /// <summary>Operations queued and not yet taken into a group (deferred ones included).</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Queues <paramref name="operation"/> for the next group; its task completes after that group's commit.</summary>
    /// <exception cref="ObjectDisposedException">The queue was disposed (the silo is stopping).</exception>
    public Task RunAsync(TOperation operation)
    {
        Interlocked.Increment(ref _queued);
        if (!_pending.Writer.TryWrite(operation))
        {
            Interlocked.Decrement(ref _queued);
            throw new ObjectDisposedException(nameof(GroupCommitQueue<TKey, TOperation>));
        }
        return operation.Task;
    }

    /// <summary>Waits for the operations queued so far, then stops taking new ones.</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunLoopAsync()
    {
        var reader = _pending.Reader;
        // Rows of the groups in flight; an operation on one of them (or behind a deferred one on the same row) waits in
        // `deferred`, in arrival order, for a later group. So no two groups ever hold the same row.
        var busy = new HashSet<TKey>();
        var deferred = new List<TOperation>();
        var deferredRows = new Dictionary<TKey, int>();
        var inFlight = new List<Task>(MaxGroupsInFlight);
        var open = true;
        while (open || deferred.Count > 0 || inFlight.Count > 0)
        {
            if (inFlight.Count < MaxGroupsInFlight)
            {
                var group = new List<TOperation>(Math.Min(MaxGroupSize, 64));
                lock (busy)
                {
                    for (var i = 0; i < deferred.Count && group.Count < MaxGroupSize; i++)
                    {
                        var row = deferred[i].Row;
                        if (!busy.Contains(row))
                        {
                            Add(group, busy, deferred[i]);
                            Release(deferredRows, row);
                            deferred.RemoveAt(i--);
                        }
                    }
                    while (group.Count < MaxGroupSize && reader.TryRead(out var operation))
                    {
                        var row = operation.Row;
                        if (busy.Contains(row) || deferredRows.ContainsKey(row))
                        {
                            deferred.Add(operation);
                            deferredRows[row] = deferredRows.GetValueOrDefault(row) + 1;
                        }
                        else
                        {
                            Add(group, busy, operation);
                        }
                    }
                }
                if (group.Count > 0)
                {
                    Interlocked.Add(ref _queued, -group.Count);
                    inFlight.Add(RunGroupAsync(group, busy));
                    continue;
                }
            }
            // Nothing to start now: wait for a new operation (while a slot is free) or for a group to end.
            var waits = new List<Task>(inFlight);
            if (open && inFlight.Count < MaxGroupsInFlight)
            {
                waits.Add(reader.WaitToReadAsync().AsTask());
            }
            if (waits.Count == 0)
            {
                break;
            }
            var done = await Task.WhenAny(waits).ConfigureAwait(false);
            if (done is Task<bool> { Result: false })
            {
                open = false;
            }
            inFlight.RemoveAll(t => t.IsCompleted);
        }

        static void Add(List<TOperation> group, HashSet<TKey> busy, TOperation operation)
        {
            operation.Ord = group.Count;
            group.Add(operation);
            busy.Add(operation.Row);
        }

        static void Release(Dictionary<TKey, int> deferredRows, TKey row)
        {
            if (deferredRows[row] == 1)
            {
                deferredRows.Remove(row);
            }
            else
            {
                deferredRows[row]--;
            }
        }
    }

    private async Task RunGroupAsync(List<TOperation> group, HashSet<TKey> busy)
    {
        await CommitAsync(group).ConfigureAwait(false);
        lock (busy)
        {
            foreach (var operation in group)
            {
                busy.Remove(operation.Row);
            }
        }
    }

    private async Task CommitAsync(List<TOperation> group)
    {
        Interlocked.Increment(ref _transactions);
        try
        {
            await _commit(group).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            foreach (var operation in group)
            {
                operation.TrySetException(exception);
            }
            return;
        }
        foreach (var operation in group)
        {
            operation.TrySetResult();
        }
    }
}
