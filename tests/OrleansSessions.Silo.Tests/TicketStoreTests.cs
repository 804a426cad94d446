using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansSessions.AspNetCore.Logins;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>The cookie ticket store of AddOrleansSessionTicketStore against the session grains of a real silo.</summary>
[Collection(LoginSiloCollection.Name)]
public sealed class TicketStoreTests(LoginSiloFixture fixture)
{
    private const string Secret = "secret-claim-value-4711";

    private IGrainFactory Grains => fixture.Grains;

    [Fact]
    public async Task Store_creates_a_session_of_the_user_labelled_from_the_request_and_retrieve_returns_the_same_ticket()
    {
        await using var logins = LoginStore.Create(Grains);
        var user = NewUser("store");
        var ticket = Ticket(user);
        var signIn = Request(userAgent: "Mozilla/5.0 " + new string('x', 300), address: "::ffff:203.0.113.7");

        var key = await logins.Store.StoreAsync(ticket, signIn, default);

        Assert.True(SessionKeys.IsValidSessionId(key), key);
        Assert.Equal(key, signIn.Features.Get<ILoginSessionFeature>()?.SessionId);
        var session = await Session(key).GetAsync();
        Assert.Equal(user, session.UserId);
        Assert.Equal(SessionStatus.Active, session.Status);
        Assert.NotNull(session.Labels);
        Assert.Equal(("Mozilla/5.0 " + new string('x', 300))[..256], session.Labels["userAgent"]);
        Assert.Equal("203.0.113.7", session.Labels["remoteAddress"]);
        var attributes = (await Session(key).GetAttributesAsync()).Attributes;
        var stored = Assert.Single(attributes);
        Assert.Equal(OrleansSessionTicketStoreOptions.DefaultAttributeKey, stored.Key);
        // Protected: whoever reads the attributes learns nothing of the claims.
        Assert.DoesNotContain(Secret, stored.Value, StringComparison.Ordinal);

        var request = Request();
        var retrieved = await logins.Store.RetrieveAsync(key, request, default);

        AssertSameTicket(ticket, retrieved);
        Assert.Equal(key, request.Features.Get<ILoginSessionFeature>()?.SessionId);
        Assert.Equal(user, (await Grains.GetGrain<IUserSessionsGrain>(user).GetActiveSessionsAsync()).Single().UserId);
        Assert.DoesNotContain(Secret, logins.Logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_login_is_refused_from_the_moment_its_session_is_closed()
    {
        await using var logins = LoginStore.Create(Grains);
        var key = await logins.Store.StoreAsync(Ticket(NewUser("close")), Request(), default);
        Assert.NotNull(await logins.Store.RetrieveAsync(key, Request(), default));

        await Session(key).CloseAsync();

        var request = Request();
        Assert.Null(await logins.Store.RetrieveAsync(key, request, default));
        Assert.Null(request.Features.Get<ILoginSessionFeature>());
    }

    [Fact]
    public async Task Every_login_of_a_user_is_refused_after_logout_everywhere()
    {
        await using var logins = LoginStore.Create(Grains);
        var user = NewUser("all");
        var first = await logins.Store.StoreAsync(Ticket(user), Request(), default);
        var second = await logins.Store.StoreAsync(Ticket(user), Request(), default);

        Assert.Equal(2, await Grains.GetGrain<IUserSessionsGrain>(user).CloseAllAsync());

        Assert.Null(await logins.Store.RetrieveAsync(first, Request(), default));
        Assert.Null(await logins.Store.RetrieveAsync(second, Request(), default));
        Assert.Equal(EndReason.LogoutAll, (await Session(first).GetAsync()).EndReason);
    }

    [Fact]
    public async Task A_login_evicted_by_the_per_user_limit_is_refused_and_the_others_stay()
    {
        await using var logins = LoginStore.Create(Grains);
        var user = NewUser("evict");
        var keys = new List<string>();
        for (var i = 0; i <= LoginSiloFixture.MaxPerUser; i++)
        {
            keys.Add(await logins.Store.StoreAsync(Ticket(user), Request(), default));
        }

        Assert.Null(await logins.Store.RetrieveAsync(keys[0], Request(), default));
        Assert.Equal(EndReason.Evicted, (await Session(keys[0]).GetAsync()).EndReason);
        foreach (var key in keys.Skip(1))
        {
            Assert.NotNull(await logins.Store.RetrieveAsync(key, Request(), default));
        }
        var history = await Grains.GetGrain<IUserSessionsGrain>(user).GetHistoryAsync(10);
        Assert.Equal(keys[0], Assert.Single(history).SessionId);
    }

    [Fact]
    public async Task A_login_is_refused_from_the_first_moment_past_its_idle_timeout()
    {
        // Requests that are not activity leave the deadline where the sign-in put it.
        await using var logins = LoginStore.Create(Grains, o =>
        {
            o.IdleTimeout = TimeSpan.FromSeconds(2);
            o.RequestsAreActivity = false;
        });
        var key = await logins.Store.StoreAsync(Ticket(NewUser("idle")), Request(), default);
        var created = await Session(key).GetAsync();
        Assert.Equal(TimeSpan.FromSeconds(2), created.IdleTimeout);
        Assert.Equal(created.LastActivity + TimeSpan.FromSeconds(2), created.ExpiresAt);

        Assert.NotNull(await logins.Store.RetrieveAsync(key, Request(), default));
        Assert.Equal(created.LastActivity, (await Session(key).GetAsync()).LastActivity);

        await WaitUntilAsync(created.ExpiresAt);
        Assert.Null(await logins.Store.RetrieveAsync(key, Request(), default));
        var ended = await Session(key).GetAsync();
        Assert.Equal(SessionStatus.Expired, ended.Status);
        Assert.Equal(EndReason.IdleTimeout, ended.EndReason);
    }

    [Fact]
    public async Task Each_request_is_activity_of_its_login_by_default()
    {
        await using var logins = LoginStore.Create(Grains, o => o.IdleTimeout = TimeSpan.FromMinutes(5));
        var key = await logins.Store.StoreAsync(Ticket(NewUser("active")), Request(), default);
        var before = await Session(key).GetAsync();

        var request = Request();
        Assert.NotNull(await logins.Store.RetrieveAsync(key, request, default));

        var after = await Session(key).GetAsync();
        Assert.True(after.LastActivity > before.LastActivity, $"last activity {after.LastActivity:O} after {before.LastActivity:O}");
        Assert.Equal(after.LastActivity + TimeSpan.FromMinutes(5), after.ExpiresAt);
        Assert.Equal(after.LastActivity, request.Features.Get<ILoginSessionFeature>()?.Session.LastActivity);
    }

    [Fact]
    public async Task Renew_touches_the_session_and_stores_the_ticket_only_when_it_changed()
    {
        await using var logins = LoginStore.Create(Grains, o => o.RequestsAreActivity = false);
        var user = NewUser("renew");
        var key = await logins.Store.StoreAsync(Ticket(user), Request(), default);
        var stored = await logins.Store.RetrieveAsync(key, Request(), default);
        Assert.NotNull(stored);
        var before = await Session(key).GetAsync();

        await logins.Store.RenewAsync(key, stored, Request(), default);

        var touched = await Session(key).GetAsync();
        Assert.True(touched.LastActivity > before.LastActivity, $"last activity {touched.LastActivity:O} after {before.LastActivity:O}");
        Assert.Equal(before.DataVersion, touched.DataVersion);

        // The cookie handler's sliding expiration renews with new times.
        var refreshed = Ticket(user, issued: before.CreatedAt.AddMinutes(10), role: "admin");
        await logins.Store.RenewAsync(key, refreshed, Request(), default);

        var written = await Session(key).GetAsync();
        Assert.Equal(before.DataVersion + 1, written.DataVersion);
        Assert.True(written.LastActivity > touched.LastActivity, $"last activity {written.LastActivity:O} after {touched.LastActivity:O}");
        AssertSameTicket(refreshed, await logins.Store.RetrieveAsync(key, Request(), default));
    }

    [Fact]
    public async Task Renew_of_an_ended_login_leaves_it_ended()
    {
        await using var logins = LoginStore.Create(Grains);
        var user = NewUser("renewend");
        var key = await logins.Store.StoreAsync(Ticket(user), Request(), default);
        await Session(key).CloseAsync();

        await logins.Store.RenewAsync(key, Ticket(user), Request(), default);

        Assert.Equal(SessionStatus.Closed, (await Session(key).GetAsync()).Status);
        Assert.Null(await logins.Store.RetrieveAsync(key, Request(), default));
    }

    [Fact]
    public async Task A_sign_in_of_another_user_over_a_live_login_is_refused()
    {
        await using var logins = LoginStore.Create(Grains);
        var user = NewUser("owner");
        var key = await logins.Store.StoreAsync(Ticket(user), Request(), default);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => logins.Store.RenewAsync(key, Ticket(NewUser("other")), Request(), default));

        Assert.Contains("Sign out first", error.Message, StringComparison.Ordinal);
        AssertSameTicket(Ticket(user), await logins.Store.RetrieveAsync(key, Request(), default));
    }

    [Fact]
    public async Task Remove_closes_the_session_as_a_logout()
    {
        await using var logins = LoginStore.Create(Grains);
        var user = NewUser("remove");
        var key = await logins.Store.StoreAsync(Ticket(user), Request(), default);

        await logins.Store.RemoveAsync(key, Request(), default);

        var closed = await Session(key).GetAsync();
        Assert.Equal(SessionStatus.Closed, closed.Status);
        Assert.Equal(EndReason.Logout, closed.EndReason);
        Assert.Null(await logins.Store.RetrieveAsync(key, Request(), default));
        Assert.Equal(key, Assert.Single(await Grains.GetGrain<IUserSessionsGrain>(user).GetHistoryAsync(10)).SessionId);
        // Again, and for a session that never was: nothing to do.
        await logins.Store.RemoveAsync(key, Request(), default);
        await logins.Store.RemoveAsync(SessionKeys.NewSessionId(), Request(), default);
    }

    [Fact]
    public async Task A_ticket_altered_or_swapped_in_the_session_attributes_is_no_login()
    {
        await using var logins = LoginStore.Create(Grains);
        var alice = await logins.Store.StoreAsync(Ticket(NewUser("alice")), Request(), default);
        var mallory = await logins.Store.StoreAsync(Ticket(NewUser("mallory")), Request(), default);
        var key = OrleansSessionTicketStoreOptions.DefaultAttributeKey;
        var malloryTicket = (await Session(mallory).GetAttributesAsync()).Attributes[key];

        // Mallory's valid ticket written into Alice's session by a writer of attributes (the HTTP API).
        await Session(alice).UpdateAttributesAsync(new Dictionary<string, string?> { [key] = malloryTicket });
        Assert.Null(await logins.Store.RetrieveAsync(alice, Request(), default));
        Assert.Contains(logins.Logs.Lines, l => l.Contains("[1603]", StringComparison.Ordinal) && l.Contains(alice, StringComparison.Ordinal));

        foreach (var altered in new[] { "\"" + malloryTicket.Trim('"')[..^4] + "AAAA\"", "\"not a ticket\"", "42", "{\"a\":1}" })
        {
            await Session(alice).UpdateAttributesAsync(new Dictionary<string, string?> { [key] = altered });
            Assert.Null(await logins.Store.RetrieveAsync(alice, Request(), default));
        }
        await Session(alice).UpdateAttributesAsync(new Dictionary<string, string?> { [key] = null });
        Assert.Null(await logins.Store.RetrieveAsync(alice, Request(), default));

        // Another app (other data protection keys) cannot read this one's logins.
        await using var otherApp = LoginStore.Create(Grains);
        Assert.Null(await otherApp.Store.RetrieveAsync(mallory, Request(), default));
        Assert.NotNull(await logins.Store.RetrieveAsync(mallory, Request(), default));

        Assert.Contains(logins.Logs.Lines, l => l.Contains("[1602]", StringComparison.Ordinal));
        Assert.DoesNotContain(Secret, logins.Logs.Text + otherApp.Logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(malloryTicket.Trim('"'), logins.Logs.Text + otherApp.Logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_that_is_no_session_is_no_login()
    {
        await using var logins = LoginStore.Create(Grains);
        Assert.Null(await logins.Store.RetrieveAsync("not-a-session", Request(), default));
        Assert.Null(await logins.Store.RetrieveAsync(SessionKeys.NewSessionId(), Request(), default));
    }

    [Fact]
    public async Task The_user_id_comes_from_the_configured_claim_and_a_ticket_without_a_valid_one_is_refused()
    {
        await using var logins = LoginStore.Create(Grains, o => o.UserIdClaimType = "sub");
        var user = NewUser("sub");
        var ticket = new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", user)], "test")), CookieAuthenticationDefaults.AuthenticationScheme);

        var key = await logins.Store.StoreAsync(ticket, Request(), default);

        Assert.Equal(user, (await Session(key).GetAsync()).UserId);
        var missing = await Assert.ThrowsAsync<ArgumentException>(() => logins.Store.StoreAsync(Ticket(NewUser("nosub")), Request(), default));
        Assert.Contains("'sub'", missing.Message, StringComparison.Ordinal);
        var malformed = new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "a/b")], "test")), CookieAuthenticationDefaults.AuthenticationScheme);
        await Assert.ThrowsAsync<ArgumentException>(() => logins.Store.StoreAsync(malformed, Request(), default));
    }

    [Fact]
    public async Task A_storage_outage_fails_the_request_instead_of_logging_the_user_out()
    {
        await using var logins = LoginStore.Create(Grains);
        var user = NewUser("outage");
        var key = await logins.Store.StoreAsync(Ticket(user), Request(), default);

        fixture.Outage.Down = true;
        Exception retrieve, store;
        try
        {
            retrieve = await Assert.ThrowsAnyAsync<Exception>(() => logins.Store.RetrieveAsync(key, Request(), default));
            store = await Assert.ThrowsAnyAsync<Exception>(() => logins.Store.StoreAsync(Ticket(user), Request(), default));
        }
        finally
        {
            fixture.Outage.Down = false;
        }

        Assert.Equal("storage_unavailable", SessionFailure.Classify(retrieve).Code);
        Assert.Equal("storage_unavailable", SessionFailure.Classify(store).Code);
        AssertSameTicket(Ticket(user), await logins.Store.RetrieveAsync(key, Request(), default));
    }

    [Fact]
    public async Task The_store_is_set_for_its_scheme_only_and_its_options_are_checked_at_start()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(Grains);
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddAuthentication().AddCookie("app").AddCookie("other");
        services.AddOrleansSessionTicketStore("app", o => o.IdleTimeout = TimeSpan.FromMinutes(1));
        services.AddOrleansSessionTicketStore("app");
        await using (var provider = services.BuildServiceProvider())
        {
            var cookies = provider.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>();
            Assert.NotNull(cookies.Get("app").SessionStore);
            Assert.Null(cookies.Get("other").SessionStore);
            Assert.Equal(TimeSpan.FromMinutes(1), provider.GetRequiredService<IOptionsMonitor<OrleansSessionTicketStoreOptions>>().Get("app").IdleTimeout);
        }

        var invalid = new OrleansSessionTicketStoreOptionsValidator().Validate("app", new OrleansSessionTicketStoreOptions
        {
            AttributeKey = "no spaces",
            UserAgentLabel = "same",
            RemoteAddressLabel = "same",
            IdleTimeout = TimeSpan.FromMilliseconds(500),
            UserIdClaimType = "",
        });
        Assert.True(invalid.Failed);
        foreach (var property in new[] { "AttributeKey", "UserIdClaimType", "must differ", "IdleTimeout" })
        {
            Assert.Contains(property, invalid.FailureMessage, StringComparison.Ordinal);
        }

        var withoutOrleans = new ServiceCollection();
        withoutOrleans.AddLogging();
        withoutOrleans.AddAuthentication().AddCookie();
        withoutOrleans.AddOrleansSessionTicketStore();
        await using var bare = withoutOrleans.BuildServiceProvider();
        var error = Assert.Throws<InvalidOperationException>(
            () => bare.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>().Get(CookieAuthenticationDefaults.AuthenticationScheme));
        Assert.Contains("UseOrleansClient", error.Message, StringComparison.Ordinal);
    }

    private ISessionGrain Session(string key) => Grains.GetGrain<ISessionGrain>(key);

    private static AuthenticationTicket Ticket(string user, DateTimeOffset? issued = null, string role = "reader")
    {
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, user), new Claim(ClaimTypes.Name, user), new Claim(ClaimTypes.Role, role), new Claim("secret", Secret)],
            CookieAuthenticationDefaults.AuthenticationScheme);
        var at = issued ?? new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        var properties = new AuthenticationProperties { IssuedUtc = at, ExpiresUtc = at.AddDays(14), IsPersistent = true };
        properties.Items["returnUrl"] = "/";
        return new AuthenticationTicket(new ClaimsPrincipal(identity), properties, CookieAuthenticationDefaults.AuthenticationScheme);
    }

    private static DefaultHttpContext Request(string userAgent = "test-agent", string address = "127.0.0.1")
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.UserAgent = userAgent;
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);
        return context;
    }

    private static void AssertSameTicket(AuthenticationTicket expected, AuthenticationTicket? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.AuthenticationScheme, actual.AuthenticationScheme);
        Assert.Equal(
            expected.Principal.Claims.Select(c => (c.Type, c.Value)),
            actual.Principal.Claims.Select(c => (c.Type, c.Value)));
        Assert.Equal(expected.Principal.Identity?.AuthenticationType, actual.Principal.Identity?.AuthenticationType);
        Assert.Equal(expected.Properties.IssuedUtc, actual.Properties.IssuedUtc);
        Assert.Equal(expected.Properties.ExpiresUtc, actual.Properties.ExpiresUtc);
        Assert.Equal(expected.Properties.IsPersistent, actual.Properties.IsPersistent);
        Assert.Equal(expected.Properties.Items.OrderBy(i => i.Key), actual.Properties.Items.OrderBy(i => i.Key));
    }
}
