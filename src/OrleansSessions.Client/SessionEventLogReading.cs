using System.Runtime.CompilerServices;
using OrleansSessions.Sessions;

namespace OrleansSessions.Client;

/// <summary>Reads the durable session event log from a cursor and follows it (<see cref="ISessionEventLogGrain"/>).</summary>
public static class SessionEventLogReading
{
    /// <summary>How long a follower waits between reads once it has read everything, unless told otherwise.</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a follower retries reads that fail for want of the cluster before it gives up, unless told otherwise.</summary>
    public static readonly TimeSpan DefaultRetryFor = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The events recorded after <paramref name="after"/> (<see cref="ISessionEventLogGrain.Start"/>: everything
    /// retained; null: from now on), then each new one as it is recorded, until <paramref name="cancellationToken"/>.
    /// Each event carries its <see cref="SessionEvent.Cursor"/>: keep the last one seen, and pass it here again to resume
    /// after it, with no gap and no duplicate, in the order of each session's changes. A read that fails for want of the
    /// cluster (a silo died, a timeout, storage down) is retried from the last cursor for <paramref name="retryFor"/>.
    /// </summary>
    /// <exception cref="EventCursorExpiredException">Events after the cursor were trimmed (Events:Retention).</exception>
    /// <exception cref="ArgumentException">The cursor is malformed or the user id invalid.</exception>
    public static async IAsyncEnumerable<SessionEvent> ReadSessionEventsAsync(
        this IGrainFactory grains,
        string? after = null,
        string? userId = null,
        TimeSpan? pollInterval = null,
        TimeSpan? retryFor = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(grains);
        var log = grains.GetGrain<ISessionEventLogGrain>(0);
        var poll = pollInterval ?? DefaultPollInterval;
        var patience = retryFor ?? DefaultRetryFor;
        var cursor = after ?? await RetryAsync(() => log.HeadAsync(), patience, cancellationToken).ConfigureAwait(false);
        while (!cancellationToken.IsCancellationRequested)
        {
            var from = cursor;
            var page = await RetryAsync(() => log.ReadAsync(from, ISessionEventLogGrain.MaxLimit, userId), patience, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Events)
            {
                yield return item;
            }
            var caughtUp = page.Cursor == cursor || page.Events.Count == 0;
            cursor = page.Cursor;
            if (caughtUp)
            {
                try
                {
                    await Task.Delay(poll, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }
            }
        }
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> read, TimeSpan patience, CancellationToken cancellationToken)
    {
        var giveUpAt = DateTime.UtcNow + patience;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await read().WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested
                && SessionFailure.Classify(exception).Kind == SessionFailureKind.Unavailable && DateTime.UtcNow < giveUpAt)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(100 * attempt, 1000)), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
