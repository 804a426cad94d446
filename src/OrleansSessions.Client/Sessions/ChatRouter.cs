namespace OrleansSessions.Sessions;

/// <summary>
/// The chat router of the session service: on every message it takes the user's current session, and while it is
/// active answers the message from the recent conversation and stores the message and its reply in the session's
/// conversation (one append, which also slides the session); once it has ended it opens a new session and asks the user
/// to log in again (the behaviour of the Python TheaRouter.handle_request it replaces), or, with
/// <see cref="ChatRouterOptions.ContinueExpiredSessions"/>, continues an expired session's conversation in the new one.
/// The router keeps no conversation of its own: the session holds it, and it ends with the session.
/// </summary>
/// <remarks>Thread-safe; one instance may serve any number of users and concurrent messages.</remarks>
public sealed class ChatRouter
{
    /// <summary>The reply when the session has ended, in English.</summary>
    public const string ExpiredMessageEnglish = "Session expired. Please log in again.";

    /// <summary>The reply when the session has ended, in Spanish.</summary>
    public const string ExpiredMessageSpanish = "Sesión expirada. Por favor inicia sesión nuevamente.";

    /// <summary>What the reply starts with when an expired session was continued, in English.</summary>
    public const string ContinuedMessageEnglish = "Your session expired; the conversation continues in a new session.";

    /// <summary>What the reply starts with when an expired session was continued, in Spanish.</summary>
    public const string ContinuedMessageSpanish = "Tu sesión expiró; la conversación continúa en una nueva sesión.";

    private readonly IGrainFactory _grainFactory;
    private readonly SessionGrainReferences _sessions;
    private readonly ChatReplyGenerator _generator;

    /// <summary>Creates a router over <paramref name="grainFactory"/> answering in <paramref name="language"/> ("en" or "es"), with the other options' defaults.</summary>
    /// <exception cref="ArgumentException">The language is neither "en" nor "es".</exception>
    public ChatRouter(IGrainFactory grainFactory, string language = "en")
        : this(grainFactory, new ChatRouterOptions { Language = language ?? throw new ArgumentNullException(nameof(language)) })
    {
    }

    /// <summary>Creates a router over <paramref name="grainFactory"/> with <paramref name="options"/> (read once, here).</summary>
    /// <exception cref="ArgumentException">The language is neither "en" nor "es".</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="ChatRouterOptions.ContextMessages"/> is not from 0 to <see cref="SessionPage.MaxLimit"/>.</exception>
    public ChatRouter(IGrainFactory grainFactory, ChatRouterOptions options)
    {
        ArgumentNullException.ThrowIfNull(grainFactory);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Language is not ("en" or "es"))
        {
            throw new ArgumentException($"Unsupported language '{options.Language}': use en or es.", nameof(options));
        }
        ArgumentOutOfRangeException.ThrowIfNegative(options.ContextMessages, nameof(options.ContextMessages));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.ContextMessages, SessionPage.MaxLimit, nameof(options.ContextMessages));
        _grainFactory = grainFactory;
        _sessions = new SessionGrainReferences(grainFactory);
        Language = options.Language;
        ContextMessages = options.ContextMessages;
        ContinueExpiredSessions = options.ContinueExpiredSessions;
        _generator = options.ReplyGenerator ?? Echo;
    }

    /// <summary>The reply language: "en" or "es".</summary>
    public string Language { get; }

    /// <summary>How many of the newest messages the reply generator gets as context (<see cref="ChatRouterOptions.ContextMessages"/>).</summary>
    public int ContextMessages { get; }

    /// <summary>Whether an expired session is continued (<see cref="ChatRouterOptions.ContinueExpiredSessions"/>).</summary>
    public bool ContinueExpiredSessions { get; }

    /// <summary>The reply given when the session has ended, in <see cref="Language"/>.</summary>
    public string ExpiredMessage => Language == "es" ? ExpiredMessageSpanish : ExpiredMessageEnglish;

    /// <summary>What the reply starts with when an expired session was continued, in <see cref="Language"/>.</summary>
    public string ContinuedMessage => Language == "es" ? ContinuedMessageSpanish : ContinuedMessageEnglish;

    /// <summary>
    /// Handles one message of <paramref name="userId"/>. With no session yet, one is created. With an active current
    /// session, the reply is made from the newest <see cref="ContextMessages"/> messages of its conversation, and the
    /// message and the reply are appended to it in one call, which is the session's activity (it slides the idle
    /// deadline) and which fails if the session ended meanwhile. With an ended one (expired, closed, or ending before the
    /// append), a new session is created and the reply is <see cref="ExpiredMessage"/>; with
    /// <see cref="ContinueExpiredSessions"/>, an expired session whose data the silo kept is continued instead: the
    /// message is answered in the new session and the reply starts with <see cref="ContinuedMessage"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The user id is invalid.</exception>
    /// <exception cref="SessionDataTooLargeException">The message or the reply alone exceeds Sessions:MaxConversationBytes.</exception>
    /// <exception cref="InvalidSessionDataException">The silo's Sessions:ConversationLimit is 1, below the two messages of a turn.</exception>
    /// <exception cref="SessionLimitExceededException">A new session was needed and the user is at Sessions:MaxPerUser under the Reject policy.</exception>
    /// <exception cref="SiloUnavailableException">The cluster cannot be reached.</exception>
    /// <exception cref="InvalidOperationException">The reply generator returned null.</exception>
    public async Task<ChatReply> HandleRequestAsync(string userId, string message, CancellationToken cancellationToken = default)
    {
        SessionKeys.ThrowIfInvalidUserId(userId);
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();

        var user = _grainFactory.GetGrain<IUserSessionsGrain>(userId);
        var current = await user.GetCurrentSessionAsync().ConfigureAwait(false);
        if (current is null)
        {
            current = await user.CreateSessionWithRetriesAsync(idempotencyKey: null, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else if (current.Status != SessionStatus.Active)
        {
            return await StartOverAsync(user, current.SessionId, current.Status == SessionStatus.Expired, message, cancellationToken).ConfigureAwait(false);
        }

        var (reply, ended) = await AnswerAsync(current, message, cancellationToken).ConfigureAwait(false);
        return reply ?? await StartOverAsync(user, current.SessionId, ended == SessionStatus.Expired, message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Answers <paramref name="message"/> in <paramref name="session"/>: reads the context, makes the reply, appends both.
    /// Null and how the session ended (<see cref="SessionStatus.Expired"/> when known to have expired) when it has ended.
    /// </summary>
    private async Task<(ChatReply? Reply, SessionStatus Ended)> AnswerAsync(SessionInfo session, string message, CancellationToken cancellationToken)
    {
        var grain = _sessions.Get(session.SessionId);
        IReadOnlyList<SessionMessage> conversation = [];
        // A session that held no message when its state was read needs no read (its first turn, a plain new session).
        if (ContextMessages > 0 && session.MessageCount > 0)
        {
            try
            {
                conversation = (await grain.GetMessagesAsync(ContextMessages).ConfigureAwait(false)).Messages;
            }
            catch (Exception ex) when (ex is SessionDataDeletedException or SessionNotFoundException)
            {
                // Ended since its state was read, and its data is gone: nothing left to continue either.
                return (null, SessionStatus.Closed);
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        var reply = await _generator(new ChatContext(session, message, conversation, Language), cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("The chat reply generator returned null.");
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            // One call: the turn is stored and the session slides together, or the session has ended and neither happens.
            var appended = await grain.AppendMessagesAsync([new NewSessionMessage(MessageRoles.User, message), new NewSessionMessage(MessageRoles.Assistant, reply)]).ConfigureAwait(false);
            return (new ChatReply(reply, appended.Session), SessionStatus.Active);
        }
        catch (SessionExpiredException)
        {
            return (null, SessionStatus.Expired);
        }
        catch (Exception ex) when (ex is SessionClosedException or SessionNotFoundException)
        {
            return (null, SessionStatus.Closed);
        }
    }

    private async Task<ChatReply> StartOverAsync(IUserSessionsGrain user, string endedSessionId, bool expired, string message, CancellationToken cancellationToken)
    {
        if (expired && ContinueExpiredSessions)
        {
            SessionInfo? continued = null;
            try
            {
                continued = await user.CreateSessionWithRetriesAsync(new SessionCreateRequest { ContinueFrom = endedSessionId }, idempotencyKey: null, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SessionDataDeletedException or ContinuationNotAllowedException or SessionNotFoundException)
            {
                // Refused (its data is gone, or it left its user's history): a plain new session, as without the option.
            }
            if (continued is not null)
            {
                var (reply, _) = await AnswerAsync(continued, message, cancellationToken).ConfigureAwait(false);
                return reply is null
                    ? new ChatReply(ContinuedMessage, continued)
                    : reply with { Reply = ContinuedMessage + " " + reply.Reply };
            }
        }
        var fresh = await user.CreateSessionWithRetriesAsync(idempotencyKey: null, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new ChatReply(ExpiredMessage, fresh);
    }

    // The chat logic proper is out of scope here: an echo shows that the message went through a live session.
    private static ValueTask<string> Echo(ChatContext context, CancellationToken cancellationToken)
        => ValueTask.FromResult(context.Language == "es" ? $"Dijiste: {context.Message}" : $"You said: {context.Message}");
}
