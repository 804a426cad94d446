using OrleansSessions.Grains.Diagnostics;

namespace OrleansSessions.Grains;

/// <summary>
/// Runs many grain calls from one grain with a bounded number in flight (close-all, eviction, refreshes, janitor
/// sweeps): a user with 50,000 sessions must not put 50,000 messages in the silo's queues at once, or every other
/// caller waits behind them.
/// </summary>
internal static class BoundedCalls
{
    /// <summary>At most this many calls of one bulk operation are in flight at once.</summary>
    public const int MaxInFlight = 64;

    /// <summary>
    /// Calls <paramref name="call"/> for 0..<paramref name="count"/>-1, at most <paramref name="maxInFlight"/> at once,
    /// and returns each call's task, completed (successfully or not), by index. Never throws for a failed call: the
    /// caller inspects each.
    /// </summary>
    public static async Task<Task<T>[]> RunAsync<T>(int count, Func<int, Task<T>> call, SessionMetrics metrics, int maxInFlight = MaxInFlight)
    {
        var calls = new Task<T>[count];
        if (count == 0)
        {
            return calls;
        }
        var next = -1;
        var workers = new Task[Math.Min(count, maxInFlight)];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = WorkAsync();
        }
        await Task.WhenAll(workers);
        return calls;

        async Task WorkAsync()
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                metrics.BulkCallStarted();
                try
                {
                    var task = Start(call, i);
                    calls[i] = task;
                    // Back on the grain's scheduler; a failure stays in the task for the caller.
                    await ((Task)task).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
                }
                finally
                {
                    metrics.BulkCallFinished();
                }
            }
        }
    }

    private static Task<T> Start<T>(Func<int, Task<T>> call, int i)
    {
        try
        {
            return call(i);
        }
        catch (Exception exception)
        {
            return Task.FromException<T>(exception);
        }
    }
}
