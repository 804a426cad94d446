namespace OrleansSessions.Sessions;

/// <summary>Creates sessions safely under failures: a create retried after a lost answer never makes a second session.</summary>
public static class SessionCreation
{
    /// <summary>How many times the creates of this class try by default.</summary>
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
    public static Task<SessionInfo> CreateSessionWithRetriesAsync(
        this IUserSessionsGrain user,
        string? idempotencyKey,
        int attempts = DefaultAttempts,
        TimeProvider? time = null,
        CancellationToken cancellationToken = default)
        => CreateWithRetriesAsync(user, request: null, idempotencyKey, attempts, time, cancellationToken);

    /// <summary>
    /// Creates a session for <paramref name="user"/> as <paramref name="request"/> asks (labels, initial attributes, its
    /// own timeouts, the continuation of an ended session; see
    /// <see cref="IUserSessionsGrain.CreateSessionAsync(SessionCreateRequest, string?)"/>), under
    /// <paramref name="idempotencyKey"/> (a new random key when null), retried as
    /// <see cref="CreateSessionWithRetriesAsync(IUserSessionsGrain, string?, int, TimeProvider?, CancellationToken)"/>
    /// retries: only when a try got no answer, always with the same key, so there is at most one new session.
    /// A refusal (an answer) is not retried: it propagates, and nothing was created.
    /// </summary>
    /// <exception cref="ArgumentException">The key breaks <see cref="SessionKeys.IdempotencyKeyRule"/>, or <paramref name="attempts"/> is below 1.</exception>
    /// <exception cref="InvalidSessionDataException">Malformed labels, attributes or timeouts.</exception>
    /// <exception cref="SessionDataTooLargeException">The attributes exceed Sessions:MaxAttributesBytes.</exception>
    /// <exception cref="ContinuationNotAllowedException">ContinueFrom names another user's session or a live one.</exception>
    /// <exception cref="SessionDataDeletedException">ContinueFrom names a session whose data is gone.</exception>
    /// <exception cref="SessionNotFoundException">ContinueFrom names no session.</exception>
    /// <exception cref="SessionLimitExceededException">The user is at Sessions:MaxPerUser under the Reject policy.</exception>
    public static Task<SessionInfo> CreateSessionWithRetriesAsync(
        this IUserSessionsGrain user,
        SessionCreateRequest request,
        string? idempotencyKey,
        int attempts = DefaultAttempts,
        TimeProvider? time = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return CreateWithRetriesAsync(user, request, idempotencyKey, attempts, time, cancellationToken);
    }

    private static async Task<SessionInfo> CreateWithRetriesAsync(
        IUserSessionsGrain user,
        SessionCreateRequest? request,
        string? idempotencyKey,
        int attempts,
        TimeProvider? time,
        CancellationToken cancellationToken)
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
                return request is null
                    ? await user.CreateSessionAsync(idempotencyKey).ConfigureAwait(false)
                    : await user.CreateSessionAsync(request, idempotencyKey).ConfigureAwait(false);
            }
            catch (Exception exception) when (attempt < attempts && SessionFailure.Classify(exception).Kind == SessionFailureKind.Unavailable)
            {
                await Task.Delay(backoff, time, cancellationToken).ConfigureAwait(false);
                backoff += backoff;
            }
        }
    }
}
