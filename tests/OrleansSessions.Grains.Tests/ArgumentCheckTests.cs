using Microsoft.Extensions.Time.Testing;
using Orleans.Concurrency;
using Orleans.TestingHost;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// One in-process cluster with the default settings, shared by the tests of <see cref="ArgumentCheckCollection"/>
/// (Orleans' ClusterFixture pattern). Its clock never moves, so nothing the tests create expires while they run.
/// </summary>
public sealed class ArgumentCheckCluster : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
        => Cluster = await SessionCluster.StartAsync(new FakeTimeProvider(SessionCluster.Start));

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ArgumentCheckCollection : ICollectionFixture<ArgumentCheckCluster>
{
    public const string Name = "Argument checks on one cluster";
}

/// <summary>
/// Bad input to the grains and the client's toucher: malformed ids, keys and limits are argument errors, unknown or
/// taken ids answer as such. They read or create only under their own ids, so they share one cluster.
/// </summary>
[Collection(ArgumentCheckCollection.Name)]
public sealed class ArgumentCheckTests(ArgumentCheckCluster fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    [Theory]
    [InlineData("")]
    [InlineData("line\nbreak")]
    [InlineData("nul\0char")]
    [InlineData("tab\tchar")]
    [InlineData("team/alice")]
    [InlineData("team%2Falice")]
    [InlineData("..")]
    [InlineData("zero\u200Bwidth")]
    [InlineData("e\u0301")]
    public async Task Invalid_user_id_is_an_argument_error(string userId)
    {
        if (userId.Length == 0)
        {
            // Orleans refuses an empty grain key before any call is made.
            Assert.Throws<ArgumentException>(() => _client.GetGrain<IUserSessionsGrain>(userId));
            return;
        }
        var user = _client.GetGrain<IUserSessionsGrain>(userId);
        await Assert.ThrowsAsync<ArgumentException>(() => user.CreateSessionAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => user.GetHistoryAsync(10));
        await Assert.ThrowsAsync<ArgumentException>(() => user.GetActiveSessionsAsync());
    }

    [Fact]
    public async Task User_id_of_129_characters_is_an_argument_error_and_128_is_fine()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _client.GetGrain<IUserSessionsGrain>(new string('u', 129)).CreateSessionAsync());
        var info = await _client.GetGrain<IUserSessionsGrain>(new string('u', 128)).CreateSessionAsync();
        Assert.Equal(new string('u', 128), info.UserId);
        Assert.Equal("usuario-ñ-😀", (await _client.GetGrain<IUserSessionsGrain>("usuario-ñ-😀").CreateSessionAsync()).UserId);
    }

    [Fact]
    public async Task Negative_history_limit_is_an_argument_error()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _client.GetGrain<IUserSessionsGrain>("negative-history-limit").GetHistoryAsync(-1));
    }

    [Theory]
    [InlineData("sess_123")]
    [InlineData("not-a-session")]
    [InlineData("sess_0E5E4E0F-9B0C-4D6A-8F7E-1A2B3C4D5E6F")] // upper case
    [InlineData("sess_0e5e4e0f-9b0c-1d6a-8f7e-1a2b3c4d5e6f")] // version 1
    [InlineData("sess_0e5e4e0f-9b0c-4d6a-cf7e-1a2b3c4d5e6f")] // wrong variant
    [InlineData("0e5e4e0f-9b0c-4d6a-8f7e-1a2b3c4d5e6f")]      // no prefix
    public async Task Malformed_session_id_is_an_argument_error(string sessionId)
    {
        var session = _client.GetGrain<ISessionGrain>(sessionId);
        await Assert.ThrowsAsync<ArgumentException>(async () => await session.TouchAsync());
        await Assert.ThrowsAsync<ArgumentException>(async () => await session.GetAsync());
        await Assert.ThrowsAsync<ArgumentException>(async () => await session.IsActiveAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => session.CloseAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => _client.GetGrain<ISessionLifecycleGrain>(sessionId).CreateAsync("malformed-session-owner"));
    }

    [Fact]
    public async Task Unknown_well_formed_session_id_is_not_found()
    {
        var session = _client.GetGrain<ISessionGrain>(SessionKeys.NewSessionId());
        await Assert.ThrowsAsync<SessionNotFoundException>(async () => await session.TouchAsync());
        await Assert.ThrowsAsync<SessionNotFoundException>(async () => await session.GetAsync());
        await Assert.ThrowsAsync<SessionNotFoundException>(() => session.CloseAsync());
        Assert.False(await session.IsActiveAsync());
        var lifecycle = _client.GetGrain<ISessionLifecycleGrain>(session.GetPrimaryKeyString());
        Assert.Null(await lifecycle.EndAsync(EndReason.Logout));
        Assert.False(await lifecycle.ExpireIfDueAsync());
    }

    [Fact]
    public async Task Creating_a_session_id_twice_is_refused()
    {
        var id = SessionKeys.NewSessionId();
        var session = _client.GetGrain<ISessionLifecycleGrain>(id);
        await session.CreateAsync("first-owner");
        await Assert.ThrowsAsync<SessionAlreadyExistsException>(() => session.CreateAsync("second-owner"));
        Assert.Equal("first-owner", (await _client.GetGrain<ISessionGrain>(id).GetAsync()).UserId);
    }

    [Fact]
    public async Task An_invalid_idempotency_key_is_an_argument_error_and_creates_nothing()
    {
        var user = _client.GetGrain<IUserSessionsGrain>("bad-key");
        foreach (var key in new[] { "", "has space", "tab\t", "\u00e9", new string('k', SessionKeys.MaxIdempotencyKeyLength + 1) })
        {
            await Assert.ThrowsAsync<ArgumentException>(() => user.CreateSessionAsync(key));
        }
        Assert.Empty(await user.GetActiveSessionsAsync());
        Assert.Equal(SessionStatus.Active, (await user.CreateSessionAsync(new string('k', SessionKeys.MaxIdempotencyKeyLength))).Status);
    }

    [Fact]
    public async Task A_touch_batch_answers_a_malformed_id_in_its_place_and_refuses_empty_or_oversized_batches()
    {
        var session = await _client.GetGrain<IUserSessionsGrain>("batch").CreateSessionAsync();
        var worker = _client.GetGrain<ISessionTouchGrain>(0);

        var results = (await worker.TouchManyAsync(new Immutable<string[]>(["not-a-session", session.SessionId]))).Value;
        Assert.Equal(2, results.Length);
        var malformed = Assert.IsType<ArgumentException>(results[0].Failure);
        Assert.StartsWith(SessionKeys.SessionIdRule, malformed.Message, StringComparison.Ordinal);
        Assert.Null(results[0].Session);
        Assert.Equal(session.SessionId, results[1].Session?.SessionId);
        Assert.Null(results[1].Failure);

        await Assert.ThrowsAsync<ArgumentException>(async () => await worker.TouchManyAsync(new Immutable<string[]>([])));
        var tooMany = Enumerable.Repeat(session.SessionId, ISessionTouchGrain.MaxSessions + 1).ToArray();
        await Assert.ThrowsAsync<ArgumentException>(async () => await worker.TouchManyAsync(new Immutable<string[]>(tooMany)));
    }

    [Fact]
    public void A_malformed_id_is_refused_by_the_toucher_before_anything_is_sent()
    {
        var toucher = new SessionToucher(_client);
        // Thrown by the call itself, not by the task it would return.
        var refused = Assert.Throws<ArgumentException>(() => { _ = toucher.TouchAsync("sess_not-a-uuid"); });
        Assert.Equal("sessionId", refused.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SessionToucher(_client, new SessionToucherOptions { MaxBatchSize = ISessionTouchGrain.MaxSessions + 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SessionToucher(_client, new SessionToucherOptions { MaxCallsInFlight = 0 }));
    }
}
