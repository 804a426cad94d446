namespace OrleansSessions.PostgreSql;

/// <summary>
/// Group commit: operations queued while a flush is in flight are sent together in the next flush, so under load
/// one round trip carries many operations and at low load an operation is sent at once (no added delay).
/// Up to <c>maxConcurrentFlushes</c> flushes run at once (each on its own pooled connection), but a key is in at
/// most one flush at a time and at most once per flush: a second operation on a key waits until the flush holding
/// the first has completed. So operations on one key apply in submission order, one statement never touches a row
/// twice, and two concurrent statements never contend for the same row.
/// </summary>
internal sealed class GroupCommitQueue<TKey, TItem, TResult> where TKey : IEquatable<TKey>
{
    private readonly Func<IReadOnlyList<Operation>, Task> _flush;
    private readonly int _maxBatchSize;
    private readonly int _maxConcurrentFlushes;
    private readonly Lock _gate = new();
    private readonly List<Operation> _queue = [];
    private readonly HashSet<TKey> _inFlight = [];
    private int _flushers;

    /// <param name="flush">Executes one batch and completes every operation in it (result or exception); an exception it throws fails the operations it left incomplete.</param>
    /// <param name="maxBatchSize">The largest number of operations per flush.</param>
    /// <param name="maxConcurrentFlushes">How many flushes may be in flight at once.</param>
    public GroupCommitQueue(Func<IReadOnlyList<Operation>, Task> flush, int maxBatchSize, int maxConcurrentFlushes)
    {
        _flush = flush;
        _maxBatchSize = maxBatchSize;
        _maxConcurrentFlushes = maxConcurrentFlushes;
    }

    /// <summary>Queues an operation; the task completes when its batch has been executed.</summary>
    public Task<TResult> EnqueueAsync(TKey key, TItem item)
    {
        var operation = new Operation(key, item);
        bool start;
        lock (_gate)
        {
            _queue.Add(operation);
            // A new flusher only when every running one is busy with a batch; otherwise one of them picks this up.
            start = _flushers < _maxConcurrentFlushes && _queue.Count == 1 || _flushers == 0;
            if (start)
            {
                _flushers++;
            }
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
        while (true)
        {
            lock (_gate)
            {
                var kept = 0;
                for (var i = 0; i < _queue.Count; i++)
                {
                    var operation = _queue[i];
                    if (batch.Count < _maxBatchSize && _inFlight.Add(operation.Key))
                    {
                        batch.Add(operation);
                    }
                    else
                    {
                        _queue[kept++] = operation;
                    }
                }
                _queue.RemoveRange(kept, _queue.Count - kept);
                if (batch.Count == 0)
                {
                    // Nothing sendable: the queue is empty, or every queued key waits for another flusher, which
                    // will find it when that flush completes.
                    _flushers--;
                    return;
                }
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
            lock (_gate)
            {
                foreach (var operation in batch)
                {
                    _inFlight.Remove(operation.Key);
                }
            }
            batch.Clear();
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
