namespace OrleansSessions.PostgreSql;

/// <summary>
/// Group commit: operations queued while a flush is in flight are sent together in the next flush, so under load
/// one round trip carries many operations and at low load an operation is sent at once (no added delay).
/// At most one flush runs at a time, which keeps operations on the same key in submission order; a key appears at
/// most once per flush (a second operation on a key waits for the next flush), so one statement never touches a
/// row twice.
/// </summary>
internal sealed class GroupCommitQueue<TKey, TItem, TResult> where TKey : IEquatable<TKey>
{
    private readonly Func<IReadOnlyList<Operation>, Task> _flush;
    private readonly int _maxBatchSize;
    private readonly Lock _gate = new();
    private readonly List<Operation> _queue = [];
    private bool _flushing;

    /// <param name="flush">Executes one batch and completes every operation in it (result or exception); an exception it throws fails the operations it left incomplete.</param>
    /// <param name="maxBatchSize">The largest number of operations per flush.</param>
    public GroupCommitQueue(Func<IReadOnlyList<Operation>, Task> flush, int maxBatchSize)
    {
        _flush = flush;
        _maxBatchSize = maxBatchSize;
    }

    /// <summary>Queues an operation; the task completes when its batch has been executed.</summary>
    public Task<TResult> EnqueueAsync(TKey key, TItem item)
    {
        var operation = new Operation(key, item);
        bool start;
        lock (_gate)
        {
            _queue.Add(operation);
            start = !_flushing;
            _flushing = true;
        }
        if (start)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static self => _ = self.FlushLoopAsync(), this, preferLocal: false);
        }
        return operation.Task;
    }

    private async Task FlushLoopAsync()
    {
        var batch = new List<Operation>(Math.Min(_maxBatchSize, 256));
        var keys = new HashSet<TKey>();
        while (true)
        {
            lock (_gate)
            {
                if (_queue.Count == 0)
                {
                    _flushing = false;
                    return;
                }
                var kept = 0;
                for (var i = 0; i < _queue.Count; i++)
                {
                    var operation = _queue[i];
                    if (batch.Count < _maxBatchSize && keys.Add(operation.Key))
                    {
                        batch.Add(operation);
                    }
                    else
                    {
                        _queue[kept++] = operation;
                    }
                }
                _queue.RemoveRange(kept, _queue.Count - kept);
            }

            try
            {
                await _flush(batch).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                foreach (var operation in batch)
                {
                    operation.TrySetException(ex);
                }
            }
            foreach (var operation in batch)
            {
                // A flush that forgot an operation must not leave its caller waiting forever.
                operation.TrySetException(new InvalidOperationException("The batch completed without a result for this operation."));
            }
            batch.Clear();
            keys.Clear();
        }
    }

    /// <summary>One queued operation and its completion.</summary>
    internal sealed class Operation : TaskCompletionSource<TResult>
    {
        public Operation(TKey key, TItem item) : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            Key = key;
            Item = item;
        }

        public TKey Key { get; }

        public TItem Item { get; }
    }
}
