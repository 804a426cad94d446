namespace OrleansSessions.Sessions;

/// <summary>Reads all of a user's live sessions, a page at a time.</summary>
public static class UserSessionsReading
{
    /// <summary>
    /// Every live session of <paramref name="user"/>, oldest first, read in pages of <paramref name="pageSize"/>
    /// (<see cref="IUserSessionsGrain.GetActiveSessionsPageAsync"/>): each call asks only its page's sessions, so a user
    /// with tens of thousands of sessions costs many small calls, never one huge one. Sessions that end while it reads
    /// are left out; ones created meanwhile may be included.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pageSize"/> is not from 1 to <see cref="SessionPage.MaxLimit"/>.</exception>
    public static async Task<IReadOnlyList<SessionInfo>> GetAllActiveSessionsAsync(
        this IUserSessionsGrain user,
        int pageSize = SessionPage.MaxLimit,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, SessionPage.MaxLimit);
        var all = new List<SessionInfo>();
        string? after = null;
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = await user.GetActiveSessionsPageAsync(pageSize, after).ConfigureAwait(false);
            all.AddRange(page.Sessions);
            after = page.Next;
        }
        while (after is not null);
        return all;
    }
}
