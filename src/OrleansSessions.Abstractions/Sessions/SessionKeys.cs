namespace OrleansSessions.Sessions;

/// <summary>
/// Creates and checks the keys of the session domain: session ids ("sess_" and a lower-case UUIDv4,
/// <c>^sess_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$</c>) and user ids
/// (1..128 characters, no control characters).
/// </summary>
public static class SessionKeys
{
    /// <summary>The prefix of every session id.</summary>
    public const string SessionIdPrefix = "sess_";

    /// <summary>The length of a session id.</summary>
    public const int SessionIdLength = 41;

    /// <summary>The longest allowed user id.</summary>
    public const int MaxUserIdLength = 128;

    /// <summary>Returns a new session id from the operating system's CSPRNG (<see cref="Guid.NewGuid"/> is a random v4 UUID).</summary>
    public static string NewSessionId() => SessionIdPrefix + Guid.NewGuid().ToString("D");

    /// <summary>True when <paramref name="sessionId"/> is a well-formed session id.</summary>
    public static bool IsValidSessionId(string? sessionId)
    {
        if (sessionId is null || sessionId.Length != SessionIdLength || !sessionId.StartsWith(SessionIdPrefix, StringComparison.Ordinal))
        {
            return false;
        }
        var uuid = sessionId.AsSpan(SessionIdPrefix.Length);
        for (var i = 0; i < uuid.Length; i++)
        {
            var c = uuid[i];
            if (i is 8 or 13 or 18 or 23)
            {
                if (c != '-')
                {
                    return false;
                }
            }
            else if (!char.IsAsciiHexDigitLower(c))
            {
                return false;
            }
        }
        // Version nibble 4, variant bits 10xx.
        return uuid[14] == '4' && uuid[19] is '8' or '9' or 'a' or 'b';
    }

    /// <summary>True when <paramref name="userId"/> has 1..128 characters and no control characters.</summary>
    public static bool IsValidUserId(string? userId)
    {
        if (string.IsNullOrEmpty(userId) || userId.Length > MaxUserIdLength)
        {
            return false;
        }
        foreach (var c in userId)
        {
            if (char.IsControl(c))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="sessionId"/> is a well-formed session id.</summary>
    public static void ThrowIfInvalidSessionId(string? sessionId)
    {
        if (!IsValidSessionId(sessionId))
        {
            throw new ArgumentException("A session id is 'sess_' followed by a lower-case UUIDv4.", nameof(sessionId));
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="userId"/> is a valid user id.</summary>
    public static void ThrowIfInvalidUserId(string? userId)
    {
        if (!IsValidUserId(userId))
        {
            throw new ArgumentException("A user id has 1 to 128 characters and no control characters.", nameof(userId));
        }
    }
}
