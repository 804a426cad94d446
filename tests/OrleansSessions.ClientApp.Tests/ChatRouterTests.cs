using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>
/// ChatRouter against the session grains on a fake grain clock (a FakeTimeProvider as the silo's TimeProvider; Orleans'
/// background areas stay on the system clock): the seed's 14:00 / 14:15 / 14:50 timeline, in English and Spanish; each
/// turn stored in the session's conversation by one append; the context handed to the reply generator.
/// </summary>
public sealed class ChatRouterTests(FakeClockSiloFixture fixture) : IClassFixture<FakeClockSiloFixture>
{
    private readonly FakeTimeProvider _clock = fixture.Clock;
    private readonly TestCluster _cluster = fixture.Cluster;

    private Task AdvanceAsync(TimeSpan by) => FakeClockClusters.AdvanceAsync(_clock, by);

    private ISessionGrain Session(string sessionId) => _cluster.Client.GetGrain<ISessionGrain>(sessionId);

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
        // The new session starts empty, and the expired one's conversation ended with it.
        Assert.Equal(0, third.Session.MessageCount);
        Assert.Null(third.Session.PreviousSessionId);
        await Assert.ThrowsAsync<SessionDataDeletedException>(() => Session(first.Session.SessionId).GetMessagesAsync());

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

    [Fact]
    public async Task Each_turn_appends_the_message_and_its_reply_in_one_call_which_is_the_touch()
    {
        var router = new ChatRouter(_cluster.Client);
        var user = Users.New("router-turn");
        var start = _clock.GetUtcNow();
        var first = await router.HandleRequestAsync(user, "hola");
        await AdvanceAsync(TimeSpan.FromMinutes(10));
        var second = await router.HandleRequestAsync(user, "para dos");
        var id = first.Session.SessionId;

        // One stored write per turn (the data version counts changes), two messages each.
        Assert.Equal((1, 2), (first.Session.DataVersion, first.Session.MessageCount));
        Assert.Equal((2, 4), (second.Session.DataVersion, second.Session.MessageCount));
        var conversation = await Session(id).GetMessagesAsync();
        Assert.Equal(
            new[] { (1L, "user", "hola"), (2L, "assistant", "You said: hola"), (3L, "user", "para dos"), (4L, "assistant", "You said: para dos") },
            conversation.Messages.Select(m => (m.Id, m.Role, m.Content)).ToArray());
        Assert.Equal(start + TimeSpan.FromMinutes(10), conversation.Messages[3].At);
        // The append is the activity: the deadline slid from the second turn, without a touch.
        Assert.Equal(start + TimeSpan.FromMinutes(40), second.Session.ExpiresAt);
        var calls = SessionCalls.To(id);
        var appends = calls.Where(c => c.Method == nameof(ISessionGrain.AppendMessagesAsync)).ToList();
        Assert.Equal(2, appends.Count);
        Assert.All(appends, a => Assert.Equal(2, Assert.IsAssignableFrom<IReadOnlyList<NewSessionMessage>>(a.Arguments[0]).Count));
        Assert.DoesNotContain(calls, c => c.Method == nameof(ISessionGrain.TouchAsync));
    }

    [Fact]
    public async Task The_reply_generator_gets_the_newest_messages_before_the_turn_as_context()
    {
        var contexts = new List<ChatContext>();
        var router = new ChatRouter(_cluster.Client, new ChatRouterOptions
        {
            ContextMessages = 3,
            ReplyGenerator = (context, _) =>
            {
                contexts.Add(context);
                return ValueTask.FromResult($"reply {contexts.Count} after {context.Conversation.Count}");
            },
        });
        var user = Users.New("router-context");
        await router.HandleRequestAsync(user, "one");
        await router.HandleRequestAsync(user, "two");
        var third = await router.HandleRequestAsync(user, "three");

        Assert.Equal("reply 3 after 3", third.Reply);
        Assert.Empty(contexts[0].Conversation);
        Assert.Equal(["user:one", "assistant:reply 1 after 0"], contexts[1].Conversation.Select(m => $"{m.Role}:{m.Content}"));
        // The newest 3 of the 4 messages held before the third turn, oldest first; not the message being answered.
        Assert.Equal(["assistant:reply 1 after 0", "user:two", "assistant:reply 2 after 2"], contexts[2].Conversation.Select(m => $"{m.Role}:{m.Content}"));
        Assert.Equal("three", contexts[2].Message);
        Assert.Equal("en", contexts[2].Language);
        Assert.Equal(third.Session.SessionId, contexts[2].Session.SessionId);
        // The context is one read of the newest N, and a session known to be empty is not read.
        var reads = SessionCalls.To(third.Session.SessionId).Where(c => c.Method == nameof(ISessionGrain.GetMessagesAsync)).ToList();
        Assert.Equal(2, reads.Count);
        Assert.All(reads, r => Assert.Equal<object?[]>([3, null], r.Arguments));
    }

    [Fact]
    public async Task Without_context_messages_the_conversation_is_not_read()
    {
        var seen = new List<int>();
        var router = new ChatRouter(_cluster.Client, new ChatRouterOptions
        {
            ContextMessages = 0,
            ReplyGenerator = (context, _) =>
            {
                seen.Add(context.Conversation.Count);
                return ValueTask.FromResult("ok");
            },
        });
        var user = Users.New("router-nocontext");
        await router.HandleRequestAsync(user, "one");
        var second = await router.HandleRequestAsync(user, "two");

        Assert.Equal([0, 0], seen);
        Assert.Equal(4, second.Session.MessageCount);
        Assert.DoesNotContain(SessionCalls.To(second.Session.SessionId), c => c.Method == nameof(ISessionGrain.GetMessagesAsync));
    }

    [Fact]
    public async Task Continuing_an_expired_session_falls_back_to_a_plain_new_one_when_its_data_is_gone()
    {
        // Sessions:DataRetention is 0 here: the expired session's data was deleted at its end.
        var router = new ChatRouter(_cluster.Client, new ChatRouterOptions { ContinueExpiredSessions = true });
        var user = Users.New("router-fallback");
        var first = await router.HandleRequestAsync(user, "hola");
        await AdvanceAsync(TimeSpan.FromMinutes(31));

        var next = await router.HandleRequestAsync(user, "otra vez");

        Assert.Equal(ChatRouter.ExpiredMessageEnglish, next.Reply);
        Assert.NotEqual(first.Session.SessionId, next.Session.SessionId);
        Assert.Null(next.Session.PreviousSessionId);
        Assert.Equal(0, next.Session.MessageCount);
    }

    [Fact]
    public async Task A_reply_generator_that_returns_null_fails_the_call_and_stores_nothing()
    {
        var router = new ChatRouter(_cluster.Client, new ChatRouterOptions { ReplyGenerator = (_, _) => ValueTask.FromResult<string>(null!) });
        var user = Users.New("router-null");
        await Assert.ThrowsAsync<InvalidOperationException>(() => router.HandleRequestAsync(user, "hola"));
        var session = await _cluster.Client.GetGrain<IUserSessionsGrain>(user).GetCurrentSessionAsync();
        Assert.Equal(0, session!.MessageCount);
    }

    [Fact]
    public void Options_out_of_range_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ChatRouter(_cluster.Client, new ChatRouterOptions { ContextMessages = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ChatRouter(_cluster.Client, new ChatRouterOptions { ContextMessages = SessionPage.MaxLimit + 1 }));
        Assert.Throws<ArgumentException>(() => new ChatRouter(_cluster.Client, new ChatRouterOptions { Language = "fr" }));
        var router = new ChatRouter(_cluster.Client, new ChatRouterOptions { Language = "es", ContextMessages = SessionPage.MaxLimit, ContinueExpiredSessions = true });
        Assert.Equal(("es", SessionPage.MaxLimit, true), (router.Language, router.ContextMessages, router.ContinueExpiredSessions));
        Assert.Equal(ChatRouter.ContinuedMessageSpanish, router.ContinuedMessage);
        Assert.Equal((ChatRouterOptions.DefaultContextMessages, false), (new ChatRouter(_cluster.Client).ContextMessages, new ChatRouter(_cluster.Client).ContinueExpiredSessions));
    }
}

/// <summary>ChatRouter with ContinueExpiredSessions on a silo that keeps ended sessions' data (Sessions:DataRetention 1 h), on a fake grain clock.</summary>
public sealed class ChatRouterContinuationTests(RetainingFakeClockSiloFixture fixture) : IClassFixture<RetainingFakeClockSiloFixture>
{
    private readonly FakeTimeProvider _clock = fixture.Clock;
    private readonly TestCluster _cluster = fixture.Cluster;

    [Theory]
    [InlineData("en", "You said: ")]
    [InlineData("es", "Dijiste: ")]
    public async Task An_expired_session_is_continued_and_the_reply_says_so(string language, string echo)
    {
        var contexts = new List<ChatContext>();
        var router = new ChatRouter(_cluster.Client, new ChatRouterOptions
        {
            Language = language,
            ContinueExpiredSessions = true,
            ReplyGenerator = (context, _) =>
            {
                contexts.Add(context);
                return ValueTask.FromResult(echo + context.Message);
            },
        });
        var user = Users.New("cont-" + language);
        var first = await router.HandleRequestAsync(user, "mesa para dos");
        await _cluster.Client.GetGrain<ISessionGrain>(first.Session.SessionId).UpdateAttributesAsync(new Dictionary<string, string?> { ["party"] = "2" });
        await FakeClockClusters.AdvanceAsync(_clock, TimeSpan.FromMinutes(31));

        var next = await router.HandleRequestAsync(user, "a las nueve");

        Assert.Equal($"{router.ContinuedMessage} {echo}a las nueve", next.Reply);
        Assert.NotEqual(first.Session.SessionId, next.Session.SessionId);
        Assert.Equal(first.Session.SessionId, next.Session.PreviousSessionId);
        Assert.Equal(SessionStatus.Active, next.Session.Status);
        // The reply was made from the carried conversation, and the turn was appended after it.
        Assert.Equal(["user:mesa para dos", $"assistant:{echo}mesa para dos"], contexts[1].Conversation.Select(m => $"{m.Role}:{m.Content}"));
        var conversation = await _cluster.Client.GetGrain<ISessionGrain>(next.Session.SessionId).GetMessagesAsync();
        Assert.Equal(["mesa para dos", $"{echo}mesa para dos", "a las nueve", $"{echo}a las nueve"], conversation.Messages.Select(m => m.Content));
        var attributes = await _cluster.Client.GetGrain<ISessionGrain>(next.Session.SessionId).GetAttributesAsync();
        Assert.Equal("2", attributes.Attributes["party"]);

        // The next message stays in the continued session.
        var after = await router.HandleRequestAsync(user, "gracias");
        Assert.Equal(echo + "gracias", after.Reply);
        Assert.Equal(next.Session.SessionId, after.Session.SessionId);
    }

    [Fact]
    public async Task By_default_an_expired_session_is_not_continued()
    {
        var router = new ChatRouter(_cluster.Client);
        var user = Users.New("cont-off");
        var first = await router.HandleRequestAsync(user, "hola");
        await FakeClockClusters.AdvanceAsync(_clock, TimeSpan.FromMinutes(31));

        var next = await router.HandleRequestAsync(user, "otra vez");

        Assert.Equal(ChatRouter.ExpiredMessageEnglish, next.Reply);
        Assert.Null(next.Session.PreviousSessionId);
        Assert.Equal(0, next.Session.MessageCount);
        // Kept read-only for Sessions:DataRetention, but not carried over.
        Assert.Equal(2, (await _cluster.Client.GetGrain<ISessionGrain>(first.Session.SessionId).GetMessagesAsync()).Messages.Count);
    }

    [Fact]
    public async Task A_session_that_expires_while_the_reply_is_made_stores_nothing_and_starts_over()
    {
        var user = Users.New("router-slow");
        var first = await new ChatRouter(_cluster.Client).HandleRequestAsync(user, "hola");
        var router = new ChatRouter(_cluster.Client, new ChatRouterOptions
        {
            // A reply generator slower than the time the session had left.
            ReplyGenerator = async (_, _) =>
            {
                await FakeClockClusters.AdvanceAsync(_clock, TimeSpan.FromMinutes(31));
                return "too late";
            },
        });

        var next = await router.HandleRequestAsync(user, "¿sigues ahí?");

        Assert.Equal(ChatRouter.ExpiredMessageEnglish, next.Reply);
        Assert.NotEqual(first.Session.SessionId, next.Session.SessionId);
        Assert.Equal(0, next.Session.MessageCount);
        var old = _cluster.Client.GetGrain<ISessionGrain>(first.Session.SessionId);
        var ended = await old.GetAsync();
        Assert.Equal(SessionStatus.Expired, ended.Status);
        Assert.Equal(first.Session.ExpiresAt, ended.EndedAt);
        // The turn was refused as a whole: the expired session (its data kept read-only here) holds the first turn only.
        Assert.Equal(["hola", "You said: hola"], (await old.GetMessagesAsync()).Messages.Select(m => m.Content));
    }

    [Fact]
    public async Task A_closed_session_is_not_continued()
    {
        var router = new ChatRouter(_cluster.Client, new ChatRouterOptions { ContinueExpiredSessions = true });
        var user = Users.New("cont-closed");
        var first = await router.HandleRequestAsync(user, "hola");
        await _cluster.Client.GetGrain<ISessionGrain>(first.Session.SessionId).CloseAsync();

        var next = await router.HandleRequestAsync(user, "¿sigo aquí?");

        Assert.Equal(ChatRouter.ExpiredMessageEnglish, next.Reply);
        Assert.Null(next.Session.PreviousSessionId);
        Assert.Equal(0, next.Session.MessageCount);
    }
}
