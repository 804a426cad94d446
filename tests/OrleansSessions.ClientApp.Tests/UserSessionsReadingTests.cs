using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>The client library reads all of a user's live sessions a page at a time.</summary>
public sealed class UserSessionsReadingTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    [Fact]
    public async Task All_live_sessions_are_read_through_every_page_oldest_first()
    {
        var user = fixture.Cluster.Client.GetGrain<IUserSessionsGrain>(Users.New("pages"));
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            ids.Add((await user.CreateSessionAsync()).SessionId);
        }
        await fixture.Cluster.Client.GetGrain<ISessionGrain>(ids[2]).CloseAsync();
        ids.RemoveAt(2);

        Assert.Equal(ids, (await user.GetAllActiveSessionsAsync(pageSize: 2)).Select(s => s.SessionId));
        Assert.Equal(ids, (await user.GetAllActiveSessionsAsync()).Select(s => s.SessionId));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => user.GetAllActiveSessionsAsync(pageSize: 0));
    }
}
