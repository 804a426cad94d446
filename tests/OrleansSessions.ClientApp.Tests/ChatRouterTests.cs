using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.TestingHost;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>ChatRouter on a manual grain clock: the seed's 14:00 / 14:15 / 14:50 timeline, in English and Spanish.</summary>
public sealed class ChatRouterTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new(new DateTimeOffset(2025, 11, 10, 14, 0, 0, TimeSpan.Zero));
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await new TestClusterBuilder(1)
        .ConfigureSilo(s => s.AddSessionGrains())
        .UseGrainTimeProvider(_clock)
        .BuildAndStartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Theory]
    [InlineData("en", "You said: ", "Session expired. Please log in again.")]
    [InlineData("es", "Dijiste: ", "Sesión expirada. Por favor inicia sesión nuevamente.")]
    public async Task Seed_timeline_answers_then_asks_to_log_in_again_at_14_50(string language, string echo, string expired)
    {
        var router = new ChatRouter(_cluster.Client, language);
        var user = Users.New("router-" + language);
        var start = _clock.GetUtcNow();

        var first = await router.HandleRequestAsync(user, "mensaje 1");
        Assert.Equal(echo + "mensaje 1", first.Reply);
        Assert.Equal(SessionStatus.Active, first.Session.Status);
        Assert.Equal(start + TimeSpan.FromMinutes(30), first.Session.ExpiresAt);

        _clock.Advance(TimeSpan.FromMinutes(15));
        var (reply, session) = await router.HandleRequestAsync(user, "mensaje 2");
        Assert.Equal(echo + "mensaje 2", reply);
        Assert.Equal(first.Session.SessionId, session.SessionId);
        Assert.Equal(start + TimeSpan.FromMinutes(45), session.ExpiresAt);

        _clock.Advance(TimeSpan.FromMinutes(35));
        var third = await router.HandleRequestAsync(user, "mensaje 3");
        Assert.Equal(expired, third.Reply);
        Assert.Equal(router.ExpiredMessage, third.Reply);
        Assert.NotEqual(first.Session.SessionId, third.Session.SessionId);
        Assert.Equal(SessionStatus.Active, third.Session.Status);

        var old = await _cluster.Client.GetGrain<ISessionGrain>(first.Session.SessionId).GetAsync();
        Assert.Equal(SessionStatus.Expired, old.Status);
        Assert.Equal(EndReason.IdleTimeout, old.EndReason);
        Assert.Equal(start + TimeSpan.FromMinutes(45), old.EndedAt);

        var fourth = await router.HandleRequestAsync(user, "mensaje 4");
        Assert.Equal(echo + "mensaje 4", fourth.Reply);
        Assert.Equal(third.Session.SessionId, fourth.Session.SessionId);
    }

    [Fact]
    public async Task Expiry_between_the_check_and_the_touch_is_treated_as_expired()
    {
        // The deadline passes with no timer having run (activation collected): the router's read of the current
        // session is what ends it, exactly at the deadline.
        var router = new ChatRouter(_cluster.Client);
        var user = Users.New("router-gap");
        var first = await router.HandleRequestAsync(user, "hi");
        await _cluster.ForceActivationCollectionAsync(TimeSpan.Zero);
        _clock.Advance(TimeSpan.FromMinutes(30));

        var next = await router.HandleRequestAsync(user, "hi again");
        Assert.Equal(ChatRouter.ExpiredMessageEnglish, next.Reply);
        Assert.NotEqual(first.Session.SessionId, next.Session.SessionId);
    }

    [Fact]
    public async Task A_closed_session_also_needs_a_new_login()
    {
        var router = new ChatRouter(_cluster.Client, "es");
        var user = Users.New("router-closed");
        var first = await router.HandleRequestAsync(user, "hola");
        await _cluster.Client.GetGrain<ISessionGrain>(first.Session.SessionId).CloseAsync();
        var next = await router.HandleRequestAsync(user, "¿sigo aquí?");
        Assert.Equal(ChatRouter.ExpiredMessageSpanish, next.Reply);
    }

    [Fact]
    public async Task Invalid_input_is_rejected_before_any_call()
    {
        Assert.Throws<ArgumentException>(() => new ChatRouter(_cluster.Client, "fr"));
        var router = new ChatRouter(_cluster.Client);
        await Assert.ThrowsAsync<ArgumentException>(() => router.HandleRequestAsync("", "hi"));
        await Assert.ThrowsAsync<ArgumentException>(() => router.HandleRequestAsync(new string('x', 129), "hi"));
        await Assert.ThrowsAsync<ArgumentNullException>(() => router.HandleRequestAsync("bob", null!));
    }
}
