namespace OrleansSessions.Sessions;

/// <summary>
/// The chat router of the session service: on every message it takes the user's current session, and answers the
/// message and slides the session while it is active; once it has ended it opens a new session and asks the user to
/// log in again (the behaviour of the Python TheaRouter.handle_request it replaces).
/// </summary>
public sealed class ChatRouter
{
    /// <summary>The reply when the session has ended, in English.</summary>
    public const string ExpiredMessageEnglish = "Session expired. Please log in again.";

    /// <summary>The reply when the session has ended, in Spanish.</summary>
    public const string ExpiredMessageSpanish = "Sesión expirada. Por favor inicia sesión nuevamente.";

    private readonly IGrainFactory _grainFactory;
    private readonly SessionToucher _toucher;

    /// <summary>Creates a router over <paramref name="grainFactory"/> answering in <paramref name="language"/> ("en" or "es").</summary>
    /// <exception cref="ArgumentException">The language is neither "en" nor "es".</exception>
    public ChatRouter(IGrainFactory grainFactory, string language = "en")
    {
        ArgumentNullException.ThrowIfNull(grainFactory);
        ArgumentNullException.ThrowIfNull(language);
        if (language is not ("en" or "es"))
        {
            throw new ArgumentException($"Unsupported language '{language}': use en or es.", nameof(language));
        }
        _grainFactory = grainFactory;
        _toucher = new SessionToucher(grainFactory);
        Language = language;
    }

    /// <summary>The reply language: "en" or "es".</summary>
    public string Language { get; }

    /// <summary>The reply given when the session has ended, in <see cref="Language"/>.</summary>
    public string ExpiredMessage => Language == "es" ? ExpiredMessageSpanish : ExpiredMessageEnglish;

    /// <summary>
    /// Handles one message of <paramref name="userId"/>. With no session yet, one is created. With an active current
    /// session, it is touched and the message answered. With an ended one (expired, closed, or expiring between the
    /// check and the touch), a new session is created and the reply is <see cref="ExpiredMessage"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The user id is invalid.</exception>
    /// <exception cref="SessionLimitExceededException">A new session was needed and the user is at Sessions:MaxPerUser under the Reject policy.</exception>
    /// <exception cref="SiloUnavailableException">The cluster cannot be reached.</exception>
    public async Task<ChatReply> HandleRequestAsync(string userId, string message, CancellationToken cancellationToken = default)
    {
        SessionKeys.ThrowIfInvalidUserId(userId);
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();

        var user = _grainFactory.GetGrain<IUserSessionsGrain>(userId);
        var current = await user.GetCurrentSessionAsync().ConfigureAwait(false);
        if (current is null)
        {
            current = await user.CreateSessionWithRetriesAsync(idempotencyKey: null).ConfigureAwait(false);
        }
        else if (current.Status != SessionStatus.Active)
        {
            return await StartOverAsync(user).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
        SessionInfo touched;
        try
        {
            // Touches of concurrent messages share calls to the silos.
            touched = await _toucher.TouchAsync(current.SessionId).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SessionExpiredException or SessionClosedException or SessionNotFoundException)
        {
            // It ended between the check and the touch (deadline passed, logout elsewhere).
            return await StartOverAsync(user).ConfigureAwait(false);
        }
        return new ChatReply(Process(message), touched);
    }

    private async Task<ChatReply> StartOverAsync(IUserSessionsGrain user)
    {
        var fresh = await user.CreateSessionWithRetriesAsync(idempotencyKey: null).ConfigureAwait(false);
        return new ChatReply(ExpiredMessage, fresh);
    }

    // The chat logic proper is out of scope here: an echo shows that the message went through a live session.
    private string Process(string message) => Language == "es" ? $"Dijiste: {message}" : $"You said: {message}";
}
