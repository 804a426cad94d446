using System.Text.Json;
using OrleansSessions.Sessions;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>attrs, messages, say and create's session details, run as processes against a silo with default options (data deleted at the end).</summary>
public sealed class SessionDataCommandTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    private string[] Target => ClientProcess.Target(fixture.Cluster);

    private Task<SessionInfo> NewSessionAsync(string prefix) => fixture.Cluster.Client.GetGrain<IUserSessionsGrain>(Users.New(prefix)).CreateSessionAsync();

    private ISessionGrain Grain(string sessionId) => fixture.Cluster.Client.GetGrain<ISessionGrain>(sessionId);

    private static string[] Names(JsonElement element) => element.EnumerateObject().Select(p => p.Name).ToArray();

    [Fact]
    public async Task Attrs_shows_sets_and_removes_attributes_with_json_values()
    {
        var session = (await NewSessionAsync("attrs")).SessionId;

        var empty = (await RunAsync([.. Target, "--json", "attrs", session])).Json();
        Assert.Equal(["dataVersion", "attributes"], Names(empty));
        Assert.Equal(0, empty.GetProperty("dataVersion").GetInt64());
        Assert.Empty(Names(empty.GetProperty("attributes")));

        // A value is JSON when it is valid JSON, else a string; JSON null removes the key.
        var set = (await RunAsync([.. Target, "--json", "attrs", session, "set", "lang=en", "n=42", "obj={\"a\":[1,2]}", "flag=true", "quoted=\"7\"", "empty=", "Locale=es-ES", "gone=1"])).Json();
        Assert.Equal(1, set.GetProperty("dataVersion").GetInt64());
        var attributes = set.GetProperty("attributes");
        Assert.Equal("en", attributes.GetProperty("lang").GetString());
        Assert.Equal(42, attributes.GetProperty("n").GetInt32());
        Assert.Equal(2, attributes.GetProperty("obj").GetProperty("a")[1].GetInt32());
        Assert.True(attributes.GetProperty("flag").GetBoolean());
        Assert.Equal("7", attributes.GetProperty("quoted").GetString());
        Assert.Equal("", attributes.GetProperty("empty").GetString());
        Assert.Equal("es-ES", attributes.GetProperty("Locale").GetString());
        Assert.Equal("\"en\"", (await Grain(session).GetAttributesAsync()).Attributes["lang"]);

        var removed = (await RunAsync([.. Target, "--json", "attrs", session, "rm", "n", "flag"])).Json();
        Assert.Equal(2, removed.GetProperty("dataVersion").GetInt64());
        var nulled = (await RunAsync([.. Target, "--json", "attrs", session, "set", "gone=null"])).Json();
        Assert.Equal(3, nulled.GetProperty("dataVersion").GetInt64());
        Assert.Equal(["Locale", "empty", "lang", "obj", "quoted"], Names(nulled.GetProperty("attributes")).Order(StringComparer.Ordinal));

        // Without --json: the version, then one line per key, sorted.
        var human = await RunAsync([.. Target, "attrs", session]);
        Assert.Equal(0, human.ExitCode);
        var lines = human.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal($"{session}  dataVersion=3  attributes=5", lines[0]);
        Assert.Equal(["Locale = \"es-ES\"", "empty = \"\"", "lang = \"en\"", "obj = {\"a\":[1,2]}", "quoted = \"7\""], lines[1..]);
    }

    [Fact]
    public async Task Attrs_set_with_if_version_changes_only_at_that_version_else_exit_4()
    {
        var session = (await NewSessionAsync("ifver")).SessionId;
        await Grain(session).UpdateAttributesAsync(new Dictionary<string, string?> { ["step"] = "1" });

        var applied = (await RunAsync([.. Target, "--json", "attrs", session, "set", "step=2", "--if-version", "1"])).Json();
        Assert.Equal(2, applied.GetProperty("dataVersion").GetInt64());

        var stale = await RunAsync([.. Target, "--json", "attrs", session, "set", "step=3", "--if-version", "1"]);
        stale.AssertFailed(4, "version conflict");
        Assert.Contains("is 2, not 1", stale.Stderr, StringComparison.Ordinal);
        (await RunAsync([.. Target, "attrs", session, "rm", "step", "--if-version", "0"])).AssertFailed(4, "version conflict");
        var unchanged = await Grain(session).GetAttributesAsync();
        Assert.Equal((2, "2"), (unchanged.DataVersion, unchanged.Attributes["step"]));
    }

    [Fact]
    public async Task Messages_reads_all_the_newest_n_or_those_after_an_id()
    {
        var session = (await NewSessionAsync("msgs")).SessionId;
        await Grain(session).AppendMessagesAsync(
        [
            new(MessageRoles.System, "be brief"),
            new(MessageRoles.User, "hola", "{\"channel\":\"web\"}"),
            new(MessageRoles.Assistant, "¡hola!"),
            new(MessageRoles.User, "two\nlines"),
            new(MessageRoles.Tool, "{\"result\":1}"),
        ]);

        var all = (await RunAsync([.. Target, "--json", "messages", session])).Json();
        Assert.Equal(["dataVersion", "trimmed", "messages"], Names(all));
        Assert.Equal((1, 0), (all.GetProperty("dataVersion").GetInt64(), all.GetProperty("trimmed").GetInt64()));
        var messages = all.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal([1L, 2, 3, 4, 5], messages.Select(m => m.GetProperty("id").GetInt64()));
        Assert.Equal(["id", "role", "content", "at", "metadata"], Names(messages[1]));
        Assert.Equal("user", messages[1].GetProperty("role").GetString());
        Assert.Equal("hola", messages[1].GetProperty("content").GetString());
        Assert.Equal("web", messages[1].GetProperty("metadata").GetProperty("channel").GetString());
        Assert.Equal(JsonValueKind.Null, messages[0].GetProperty("metadata").ValueKind);
        Assert.EndsWith("Z", messages[0].GetProperty("at").GetString(), StringComparison.Ordinal);

        var newest = (await RunAsync([.. Target, "--json", "messages", session, "--limit", "2"])).Json();
        Assert.Equal([4L, 5], newest.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetInt64()));
        var after = (await RunAsync([.. Target, "--json", "messages", session, "--after", "2", "--limit", "2"])).Json();
        Assert.Equal([3L, 4], after.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetInt64()));
        var none = (await RunAsync([.. Target, "--json", "messages", session, "--after", "5"])).Json();
        Assert.Equal(0, none.GetProperty("messages").GetArrayLength());

        // Without --json: a line for the page, then one per message (line breaks shown as \n).
        var human = await RunAsync([.. Target, "messages", session, "-n", "3"]);
        Assert.Equal(0, human.ExitCode);
        var lines = human.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal($"{session}  dataVersion=1  trimmed=0  messages=3", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("#3  ", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("assistant: ¡hola!", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("user: two\\nlines", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Say_appends_a_message_which_is_activity_and_prints_what_was_stored()
    {
        var created = await NewSessionAsync("say");

        var said = (await RunAsync([.. Target, "--json", "say", created.SessionId, "user", "quiero una mesa"])).Json();
        Assert.Equal(["dataVersion", "messages", "session"], Names(said));
        Assert.Equal(1, said.GetProperty("dataVersion").GetInt64());
        var message = Assert.Single(said.GetProperty("messages").EnumerateArray());
        Assert.Equal((1, "user", "quiero una mesa"), (message.GetProperty("id").GetInt64(), message.GetProperty("role").GetString(), message.GetProperty("content").GetString()));
        var session = said.GetProperty("session");
        Assert.Equal(created.SessionId, session.GetProperty("sessionId").GetString());
        Assert.Equal(1, session.GetProperty("messageCount").GetInt32());
        Assert.Equal(1, session.GetProperty("dataVersion").GetInt64());
        // The append slid the idle deadline, as a touch does.
        Assert.Equal(message.GetProperty("at").GetDateTimeOffset(), session.GetProperty("lastActivity").GetDateTimeOffset());
        Assert.True(session.GetProperty("expiresAt").GetDateTimeOffset() > created.ExpiresAt);

        var human = await RunAsync([.. Target, "say", created.SessionId, "assistant", "¿para cuántos?"]);
        Assert.Equal(0, human.ExitCode);
        var lines = human.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal($"{created.SessionId}  dataVersion=2  appended=1", lines[0]);
        Assert.StartsWith("#2  ", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("assistant: ¿para cuántos?", lines[1], StringComparison.Ordinal);
        Assert.Contains("dataVersion=2  messages=2", lines[2], StringComparison.Ordinal);
        Assert.Equal(["quiero una mesa", "¿para cuántos?"], (await Grain(created.SessionId).GetMessagesAsync()).Messages.Select(m => m.Content));
    }

    [Fact]
    public async Task Create_takes_labels_and_its_own_timeouts()
    {
        var user = Users.New("details");
        var created = (await RunAsync([.. Target, "--json", "create", user, "--label", "channel=web", "--label", "Device=phone=x", "--label", "locale=", "--idle", "00:05:00", "--absolute", "PT1H"])).Json();

        Assert.Equal(
            ["sessionId", "userId", "createdAt", "lastActivity", "expiresAt", "status", "endedAt", "endReason", "labels", "idleTimeout", "absoluteTimeout", "dataVersion", "messageCount", "previousSessionId"],
            Names(created));
        var labels = created.GetProperty("labels");
        // Keys as given (not camel-cased), the value everything after the first '='.
        Assert.Equal(["channel", "Device", "locale"], Names(labels));
        Assert.Equal("phone=x", labels.GetProperty("Device").GetString());
        Assert.Equal("", labels.GetProperty("locale").GetString());
        Assert.Equal("00:05:00", created.GetProperty("idleTimeout").GetString());
        Assert.Equal("01:00:00", created.GetProperty("absoluteTimeout").GetString());
        Assert.Equal(created.GetProperty("createdAt").GetDateTimeOffset() + TimeSpan.FromMinutes(5), created.GetProperty("expiresAt").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, created.GetProperty("previousSessionId").ValueKind);

        var stored = await Grain(created.GetProperty("sessionId").GetString()!).GetAsync();
        Assert.Equal(TimeSpan.FromMinutes(5), stored.IdleTimeout);
        Assert.Equal(TimeSpan.FromHours(1), stored.AbsoluteTimeout);

        var plain = (await RunAsync([.. Target, "--json", "create", user])).Json();
        Assert.Equal(JsonValueKind.Null, plain.GetProperty("labels").ValueKind);
        Assert.Equal("00:30:00", plain.GetProperty("idleTimeout").GetString());
        Assert.Equal("08:00:00", plain.GetProperty("absoluteTimeout").GetString());

        var human = await RunAsync([.. Target, "create", user, "--label", "channel=sms", "--idle", "PT2M"]);
        Assert.Equal(0, human.ExitCode);
        Assert.Contains("idle=00:02:00  absolute=08:00:00", human.Stdout, StringComparison.Ordinal);
        Assert.Contains("labels=channel=sms", human.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("attrs", "{0}", "set", "bad key=1")]
    [InlineData("attrs", "{0}", "set", "=1")]
    [InlineData("attrs", "{0}", "set", "novalue")]
    [InlineData("attrs", "{0}", "rm", "bad/key")]
    [InlineData("attrs", "{0}", "set")]
    [InlineData("attrs", "{0}", "lang=en")]
    [InlineData("attrs", "{0}", "lang")]
    [InlineData("attrs", "{0}", "--if-version", "1")]
    [InlineData("attrs", "{0}", "set", "a=1", "--if-version", "-1")]
    [InlineData("attrs", "sess_1", "set", "a=1")]
    [InlineData("messages", "{0}", "--limit", "0")]
    [InlineData("messages", "{0}", "--limit", "1001")]
    [InlineData("messages", "{0}", "--after", "-1")]
    [InlineData("messages", "{0}", "--after", "first")]
    [InlineData("say", "{0}", "robot", "hi")]
    [InlineData("say", "{0}", "user")]
    [InlineData("create", "alice", "--label", "bad key=x")]
    [InlineData("create", "alice", "--label", "nokv")]
    [InlineData("create", "alice", "--idle", "soon")]
    [InlineData("create", "alice", "--idle", "5")]
    [InlineData("create", "alice", "--idle", "00:00:00")]
    [InlineData("create", "alice", "--idle", "01:00:00")]
    [InlineData("create", "alice", "--absolute", "P1D")]
    [InlineData("create", "alice", "--continue-from", "sess_1")]
    public async Task Bad_input_is_exit_2_with_one_line(params string[] arguments)
    {
        var session = (await NewSessionAsync("bad")).SessionId;
        var result = await RunAsync([.. Target, "--json", .. arguments.Select(a => string.Format(System.Globalization.CultureInfo.InvariantCulture, a, session))]);
        result.AssertFailed(2, "bad input");
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // Nothing was changed.
        Assert.Equal(0, (await Grain(session).GetAsync()).DataVersion);
    }

    [Fact]
    public async Task Refusals_of_the_silo_name_their_code()
    {
        var session = (await NewSessionAsync("codes")).SessionId;
        (await RunAsync([.. Target, "attrs", session, "set", "bad key=1"])).AssertFailed(2, "bad input (invalid_attribute_key)");
        (await RunAsync([.. Target, "create", "alice", "--label", "bad key=x"])).AssertFailed(2, "bad input (invalid_labels)");
        (await RunAsync([.. Target, "create", "alice", "--idle", "01:00:00"])).AssertFailed(2, "bad input (invalid_timeout)");
    }

    [Fact]
    public async Task Writing_to_an_ended_session_is_exit_4_and_reading_its_deleted_data_is_exit_3()
    {
        var session = (await NewSessionAsync("ended")).SessionId;
        await Grain(session).AppendMessagesAsync([new(MessageRoles.User, "hola")]);
        await Grain(session).CloseAsync();

        (await RunAsync([.. Target, "--json", "say", session, "user", "¿hola?"])).AssertFailed(4, "closed");
        (await RunAsync([.. Target, "--json", "attrs", session, "set", "a=1"])).AssertFailed(4, "closed");
        // Sessions:DataRetention is 0: the data was deleted at the end.
        (await RunAsync([.. Target, "--json", "messages", session])).AssertFailed(3, "data deleted");
        (await RunAsync([.. Target, "--json", "attrs", session])).AssertFailed(3, "data deleted");
        (await RunAsync([.. Target, "--json", "create", (await Grain(session).GetAsync()).UserId, "--continue-from", session])).AssertFailed(3, "data deleted");
    }

    [Theory]
    [InlineData("messages", "{0}")]
    [InlineData("attrs", "{0}")]
    [InlineData("attrs", "{0}", "set", "a=1")]
    [InlineData("say", "{0}", "user", "hi")]
    [InlineData("create", "alice", "--continue-from", "{0}")]
    public async Task An_unknown_session_is_exit_3(params string[] arguments)
    {
        var unknown = SessionKeys.NewSessionId();
        var result = await RunAsync([.. Target, "--json", .. arguments.Select(a => string.Format(System.Globalization.CultureInfo.InvariantCulture, a, unknown))]);
        result.AssertFailed(3, "not found");
    }

    [Fact]
    public async Task Continuing_a_live_session_or_another_users_is_exit_4()
    {
        var live = await NewSessionAsync("live");
        (await RunAsync([.. Target, "--json", "create", live.UserId, "--continue-from", live.SessionId])).AssertFailed(4, "continuation not allowed");
        await Grain(live.SessionId).CloseAsync();
        (await RunAsync([.. Target, "--json", "create", Users.New("other"), "--continue-from", live.SessionId])).AssertFailed(4, "continuation not allowed");
        // A refusal creates nothing.
        Assert.Empty(await fixture.Cluster.Client.GetGrain<IUserSessionsGrain>(live.UserId).GetActiveSessionsAsync());
    }
}

/// <summary>The data bounds and the continuation through the client app, on a silo with small bounds that keeps ended sessions' data (<see cref="DataSiloFixture"/>).</summary>
public sealed class SessionDataBoundsTests(DataSiloFixture fixture) : IClassFixture<DataSiloFixture>
{
    private string[] Target => ClientProcess.Target(fixture.Cluster);

    private ISessionGrain Grain(string sessionId) => fixture.Cluster.Client.GetGrain<ISessionGrain>(sessionId);

    [Fact]
    public async Task Data_over_a_bound_is_exit_2_and_changes_nothing()
    {
        var session = (await fixture.Cluster.Client.GetGrain<IUserSessionsGrain>(Users.New("big")).CreateSessionAsync()).SessionId;

        var attributes = await RunAsync([.. Target, "--json", "attrs", session, "set", "note=" + new string('a', DataSiloFixture.MaxAttributesBytes)]);
        attributes.AssertFailed(2, "too large");
        Assert.Contains("Sessions:MaxAttributesBytes", attributes.Stderr, StringComparison.Ordinal);
        var message = await RunAsync([.. Target, "--json", "say", session, "user", new string('m', DataSiloFixture.MaxConversationBytes)]);
        message.AssertFailed(2, "too large");
        Assert.Contains("Sessions:MaxConversationBytes", message.Stderr, StringComparison.Ordinal);
        // Users' words are never repeated in an error.
        Assert.DoesNotContain("aaaa", attributes.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("mmmm", message.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, (await Grain(session).GetAsync()).DataVersion);
    }

    [Fact]
    public async Task Create_continue_from_starts_with_the_ended_sessions_data()
    {
        var user = Users.New("continue");
        var sessions = fixture.Cluster.Client.GetGrain<IUserSessionsGrain>(user);
        var ended = await sessions.CreateSessionAsync(new SessionCreateRequest { Labels = new Dictionary<string, string> { ["channel"] = "web" } });
        await Grain(ended.SessionId).UpdateAttributesAsync(new Dictionary<string, string?> { ["party"] = "2" });
        await Grain(ended.SessionId).AppendMessagesAsync([new(MessageRoles.User, "mesa para dos"), new(MessageRoles.Assistant, "¿a qué hora?")]);
        await Grain(ended.SessionId).CloseAsync();

        var continued = (await RunAsync([.. Target, "--json", "create", user, "--continue-from", ended.SessionId])).Json();

        Assert.Equal(ended.SessionId, continued.GetProperty("previousSessionId").GetString());
        Assert.Equal(2, continued.GetProperty("messageCount").GetInt32());
        Assert.Equal("web", continued.GetProperty("labels").GetProperty("channel").GetString());
        var id = continued.GetProperty("sessionId").GetString()!;
        var attrs = (await RunAsync([.. Target, "--json", "attrs", id])).Json();
        Assert.Equal(2, attrs.GetProperty("attributes").GetProperty("party").GetInt32());
        var messages = (await RunAsync([.. Target, "--json", "messages", id])).Json();
        Assert.Equal(["mesa para dos", "¿a qué hora?"], messages.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()));
        // The ended session's data stays readable, read-only, for Sessions:DataRetention.
        var retained = (await RunAsync([.. Target, "--json", "messages", ended.SessionId])).Json();
        Assert.Equal(2, retained.GetProperty("messages").GetArrayLength());
    }
}
