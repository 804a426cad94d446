using OrleansSessions.Sessions;

namespace OrleansSessions.Sessions;

/// <summary>Creates sessions safely under failures: a create retried after a lost answer never makes a second session.</summary>
public static class SessionCreation
{
    /// <summary>How many times <see cref="CreateSessionWithRetriesAsync"/> tries by default.</summary>
    public const int DefaultAttempts = 3;

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Creates a session for <paramref name="user"/> under <paramref name="idempotencyKey"/> (a new random key when
    /// null), and retries up to <paramref name="attempts"/> times in all when the call fails without an answer
    /// (<see cref="SessionFailureKind.Unavailable"/>: a silo died, a timeout, storage down). Every try carries the same
    /// key, so however many of them reached the cluster there is one session, and this returns it.
    /// </summary>
    /// <exception cref="ArgumentException">The key breaks <see cref="SessionKeys.IdempotencyKeyRule"/>, or <paramref name="attempts"/> is below 1.</exception>
    /// <exception cref="SessionLimitExceededException">The user is at Sessions:MaxPerUser under the Reject policy.</exception>
    /// <remarks>The last failure propagates when every try failed; retrying later with the same key is still safe within Sessions:IdempotencyWindow.</remarks>
    public static async Task<SessionInfo> CreateSessionWithRetriesAsync(
        this IUserSessionsGrain user,
        string? idempotencyKey,
        int attempts = DefaultAttempts,
        TimeProvider? time = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        idempotencyKey ??= Guid.NewGuid().ToString("N");
        if (!SessionKeys.IsValidIdempotencyKey(idempotencyKey))
        {
            throw new ArgumentException(SessionKeys.IdempotencyKeyRule, nameof(idempotencyKey));
        }
        time ??= TimeProvider.System;
        var backoff = FirstBackoff;
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return await user.CreateSessionAsync(idempotencyKey).ConfigureAwait(false);
            }
            catch (Exception exception) when (attempt < attempts && SessionFailure.Classify(exception).Kind == SessionFailureKind.Unavailable)
            {
                await Task.Delay(backoff, time, cancellationToken).ConfigureAwait(false);
                backoff += backoff;
            }
        }
    }
}
