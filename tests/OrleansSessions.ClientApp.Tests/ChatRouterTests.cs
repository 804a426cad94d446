using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>
/// ChatRouter against the session grains on a fake grain clock (a FakeTimeProvider as the silo's TimeProvider; Orleans'
/// background areas stay on the system clock): the seed's 14:00 / 14:15 / 14:50 timeline, in English and Spanish.
/// </summary>
public sealed class ChatRouterTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2025, 11, 10, 14, 0, 0, TimeSpan.Zero);

    // Configurators are created by type (no instance capture): the clock of the cluster being built is a static.
    private static FakeTimeProvider s_clock = new(Start);

    private readonly FakeTimeProvider _clock = new(Start);
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        s_clock = _clock;
        var builder = SessionClusters.Builder(ConnectionTransportType.InMemory);
        builder.AddSiloBuilderConfigurator<FakeClockConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    // Advance runs due timer callbacks inline: off the test's thread, as Orleans' own fake-time tests do.
    private Task AdvanceAsync(TimeSpan by) => Task.Run(() => _clock.Advance(by)).WaitAsync(SessionClusters.WaitLimit);

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

        await AdvanceAsync(TimeSpan.FromMinutes(15));
        var (reply, session) = await router.HandleRequestAsync(user, "mensaje 2");
        Assert.Equal(echo + "mensaje 2", reply);
        Assert.Equal(first.Session.SessionId, session.SessionId);
        Assert.Equal(start + TimeSpan.FromMinutes(45), session.ExpiresAt);

        await AdvanceAsync(TimeSpan.FromMinutes(35));
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
        // The deadline passes with no timer having run (activation gone): the router's read of the current session
        // is what ends it, exactly at the deadline.
        var router = new ChatRouter(_cluster.Client);
        var user = Users.New("router-gap");
        var first = await router.HandleRequestAsync(user, "hi");
        await _cluster.DeactivateAsync(_cluster.Client.GetGrain<ISessionGrain>(first.Session.SessionId));
        await AdvanceAsync(TimeSpan.FromMinutes(30));

        var next = await router.HandleRequestAsync(user, "hi again");
        Assert.Equal(ChatRouter.ExpiredMessageEnglish, next.Reply);
        Assert.NotEqual(first.Session.SessionId, next.Session.SessionId);
        var old = await _cluster.Client.GetGrain<ISessionGrain>(first.Session.SessionId).GetAsync();
        Assert.Equal(SessionStatus.Expired, old.Status);
        Assert.Equal(first.Session.ExpiresAt, old.EndedAt);
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
        Assert.NotEqual(first.Session.SessionId, next.Session.SessionId);
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

    private sealed class FakeClockConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<TimeProvider>(s_clock);
            // Membership, messaging, reminders and the rest stay on the system clock: only grain time is fake.
            siloBuilder.Services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
        }
    }
}
