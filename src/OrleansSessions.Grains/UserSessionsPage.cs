namespace OrleansSessions.Grains;

/// <summary>
/// A sealed page of a user's live session ids: up to <see cref="LiveSessionList.TailLimit"/> ids, oldest first, stored
/// as its own record in the sessions' grain storage (state <see cref="SessionStorage.UserPageStateName"/>, grain id
/// <see cref="UserSessionsPage.GrainIdOf"/>). A page is written whole when sealed and only shrinks after: an end rewrites
/// the one page holding the id, so a change costs the page, not the user's whole list.
/// </summary>
[GenerateSerializer, Alias("OrleansSessions.UserSessionsPage")]
internal sealed class UserSessionsPage
{
    /// <summary>The grain type of page records' synthetic grain ids.</summary>
    public const string GrainType = "user-sessions-page";

    /// <summary>Live session ids, oldest first.</summary>
    [Id(0)]
    public List<string> Ids { get; set; } = [];

    /// <summary>The storage key of page <paramref name="page"/> of <paramref name="userId"/> (user ids have no '/').</summary>
    public static GrainId GrainIdOf(string userId, int page)
        => GrainId.Create(GrainType, userId + "/" + page.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
