using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Storage;

/// <summary>
/// The kinds of row the deadline index holds. A session's row is keyed by its session id; a user's history-retention
/// row by <see cref="HistoryPrefix"/> + user id, which no session id can be (session ids are "sess_" + a UUID).
/// </summary>
internal static class DeadlineKeys
{
    /// <summary>The prefix of a user's history-retention row.</summary>
    public const string HistoryPrefix = "history:";

    /// <summary>The key of <paramref name="userId"/>'s history-retention row.</summary>
    public static string History(string userId) => HistoryPrefix + userId;

    /// <summary>The user id of a history-retention key, or null when <paramref name="key"/> is not one.</summary>
    public static string? HistoryUser(string key)
        => key.StartsWith(HistoryPrefix, StringComparison.Ordinal) && SessionKeys.IsValidUserId(key[HistoryPrefix.Length..])
            ? key[HistoryPrefix.Length..]
            : null;
}
