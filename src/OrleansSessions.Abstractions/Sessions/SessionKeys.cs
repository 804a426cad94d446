namespace OrleansSessions.Sessions;

/// <summary>
/// Creates and checks the keys of the session domain: session ids ("sess_" and a lower-case UUIDv4,
/// <c>^sess_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$</c>) and user ids
/// (see <see cref="IsValidUserId"/>: the one definition of the user id alphabet).
/// </summary>
public static class SessionKeys
{
    /// <summary>The prefix of every session id.</summary>
    public const string SessionIdPrefix = "sess_";

    /// <summary>The length of a session id.</summary>
    public const int SessionIdLength = 41;

    /// <summary>What a well-formed session id is, as error messages say it.</summary>
    public const string SessionIdRule = "A session id is 'sess_' followed by a lower-case UUIDv4.";

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

    /// <summary>The longest allowed idempotency key.</summary>
    public const int MaxIdempotencyKeyLength = 255;

    /// <summary>What a valid idempotency key is, as error messages say it.</summary>
    public const string IdempotencyKeyRule = "An idempotency key has 1 to 255 visible ASCII characters (no spaces), e.g. a UUID.";

    /// <summary>True when <paramref name="key"/> is 1..<see cref="MaxIdempotencyKeyLength"/> visible ASCII characters (U+0021..U+007E).</summary>
    public static bool IsValidIdempotencyKey(string? key)
    {
        if (key is null || key.Length is 0 or > MaxIdempotencyKeyLength)
        {
            return false;
        }
        foreach (var c in key)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The longest attribute or label key.</summary>
    public const int MaxDataKeyLength = 128;

    /// <summary>The most labels a session may have.</summary>
    public const int MaxLabels = 16;

    /// <summary>The longest label value.</summary>
    public const int MaxLabelValueLength = 256;

    /// <summary>What a valid attribute or label key is, as error messages say it.</summary>
    public const string DataKeyRule = "An attribute or label key has 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'.";

    /// <summary>True when <paramref name="key"/> is 1..<see cref="MaxDataKeyLength"/> characters of <c>[A-Za-z0-9._:-]</c>.</summary>
    public static bool IsValidDataKey(string? key)
    {
        if (key is null || key.Length is 0 or > MaxDataKeyLength)
        {
            return false;
        }
        foreach (var c in key)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or ':' or '-'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>What a valid user id is, in the words of the HTTP API's and the grains' error messages.</summary>
    public const string UserIdRule =
        "A user id has 1 to 128 UTF-16 code units, is NFC-normalized, is not '.' or '..', and has no '/', '\\', '%', '?', '#', "
        + "control, format (zero-width, bidi), private-use or unassigned characters.";

    /// <summary>
    /// True when <paramref name="userId"/> is in the user id alphabet, which is what a URL path segment carries
    /// unambiguously and what cannot pose as another id: 1..<see cref="MaxUserIdLength"/> UTF-16 code units; not
    /// <c>.</c> or <c>..</c>; none of <c>/ \ % ? #</c>; no control (Cc), format (Cf: zero-width and bidi controls such
    /// as U+200B-U+200F, U+202A-U+202E, U+2060-U+2069, U+FEFF), surrogate (unpaired), private-use, line/paragraph
    /// separator or unassigned code point; and NFC-normalized, decided by the Unicode NFC quick check on built-in
    /// tables (the same answer on every node; an id whose check answers "maybe", such as an acute accent after a
    /// letter, is rejected rather than normalized).
    /// </summary>
    public static bool IsValidUserId(string? userId)
    {
        if (string.IsNullOrEmpty(userId) || userId.Length > MaxUserIdLength || userId is "." or "..")
        {
            return false;
        }
        var lastClass = 0;
        for (var i = 0; i < userId.Length; i++)
        {
            var c = userId[i];
            if (c is '/' or '\\' or '%' or '?' or '#')
            {
                return false;
            }
            if (c < 0x7F && c >= 0x20)
            {
                lastClass = 0;
                continue;
            }
            int codePoint = c;
            if (char.IsHighSurrogate(c) && i + 1 < userId.Length && char.IsLowSurrogate(userId[i + 1]))
            {
                codePoint = char.ConvertToUtf32(c, userId[i + 1]);
                i++;
            }
            if (Find(UserIdCharacters.Rejected, 2, codePoint) >= 0)
            {
                return false;
            }
            // The quick check's ordering rule: combining marks in canonical order.
            var found = Find(UserIdCharacters.CombiningClasses, 3, codePoint);
            var combiningClass = found < 0 ? 0 : UserIdCharacters.CombiningClasses[found + 2];
            if (combiningClass != 0 && lastClass > combiningClass)
            {
                return false;
            }
            lastClass = combiningClass;
        }
        return true;
    }

    /// <summary>The index of the [first, last, ...] row of <paramref name="table"/> holding <paramref name="codePoint"/>, or -1.</summary>
    private static int Find(int[] table, int width, int codePoint)
    {
        int low = 0, high = (table.Length / width) - 1;
        while (low <= high)
        {
            var mid = (low + high) >>> 1;
            if (codePoint < table[width * mid])
            {
                high = mid - 1;
            }
            else if (codePoint > table[(width * mid) + 1])
            {
                low = mid + 1;
            }
            else
            {
                return width * mid;
            }
        }
        return -1;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="sessionId"/> is a well-formed session id.</summary>
    public static void ThrowIfInvalidSessionId(string? sessionId)
    {
        if (!IsValidSessionId(sessionId))
        {
            throw new ArgumentException(SessionIdRule, nameof(sessionId));
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="userId"/> is a valid user id.</summary>
    public static void ThrowIfInvalidUserId(string? userId)
    {
        if (!IsValidUserId(userId))
        {
            throw new ArgumentException(UserIdRule, nameof(userId));
        }
    }
}
