using System.Collections.Concurrent;

namespace OrleansSessions.PostgreSql.Tests;

// Pure logic: no PostgreSQL needed.
public sealed class GroupCommitQueueTests
{
    [Fact]
    public async Task Operations_on_one_key_are_flushed_in_submission_order_and_never_in_two_flushes_at_once()
    {
        var applied = new ConcurrentDictionary<int, List<int>>();
        var inFlight = new ConcurrentDictionary<int, int>();
        var violations = 0;
        var maxBatch = 0;
        var queue = new GroupCommitQueue<int, int, int>(async batch =>
        {
            var keys = new HashSet<int>();
            foreach (var operation in batch)
            {
                if (!keys.Add(operation.Key) || !inFlight.TryAdd(operation.Key, 0))
                {
                    Interlocked.Increment(ref violations);
                }
            }
            InterlockedMax(ref maxBatch, batch.Count);
            await Task.Delay(Random.Shared.Next(0, 3));
            foreach (var operation in batch)
            {
                lock (applied)
                {
                    applied.GetOrAdd(operation.Key, _ => []).Add(operation.Item);
                }
                inFlight.TryRemove(operation.Key, out _);
                operation.TrySetResult(operation.Item);
            }
        }, maxBatchSize: 64, maxConcurrentFlushes: 3);

        // Each key's operations are submitted by one producer in sequence without awaiting (like a grain firing
        // several writes); producers for different keys run concurrently.
        const int keys = 40, perKey = 200;
        var results = await Task.WhenAll(Enumerable.Range(0, keys).Select(key => Task.Run(() =>
            Task.WhenAll(Enumerable.Range(0, perKey).Select(seq => queue.EnqueueAsync(key, seq))))));

        Assert.Equal(0, violations);
        Assert.True(maxBatch > 1, "operations were grouped");
        for (var key = 0; key < keys; key++)
        {
            Assert.Equal(Enumerable.Range(0, perKey), applied[key]);
            Assert.Equal(Enumerable.Range(0, perKey), results[key]);
        }
    }

    [Fact]
    public async Task A_failed_flush_fails_its_callers_and_later_operations_still_run()
    {
        var fail = true;
        var queue = new GroupCommitQueue<string, int, int>(batch =>
        {
            if (fail)
            {
                throw new InvalidOperationException("server gone");
            }
            foreach (var operation in batch)
            {
                operation.TrySetResult(operation.Item * 2);
            }
            return Task.CompletedTask;
        }, maxBatchSize: 16, maxConcurrentFlushes: 2);

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => queue.EnqueueAsync("a", 1));
        Assert.Equal("server gone", ex.Message);
        fail = false;
        Assert.Equal(4, await queue.EnqueueAsync("a", 2));
    }

    [Fact]
    public async Task A_flush_that_forgets_an_operation_fails_it_instead_of_hanging()
    {
        var queue = new GroupCommitQueue<string, int, int>(_ => Task.CompletedTask, maxBatchSize: 16, maxConcurrentFlushes: 1);
        await Assert.ThrowsAsync<InvalidOperationException>(() => queue.EnqueueAsync("a", 1).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
