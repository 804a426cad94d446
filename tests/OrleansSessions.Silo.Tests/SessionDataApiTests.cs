using System.Net;
using System.Text;
using System.Text.Json;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// Session data over the HTTP API (issue 24) on the silo host with the default options: Sessions:DataRetention 0, so
/// a session's data is deleted as part of its end.
/// </summary>
[Collection(SiloAppCollection.Name)]
public sealed class SessionDataApiTests(SiloAppFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Create_with_only_a_user_id_answers_the_data_fields_at_their_defaults()
    {
        var session = await CreateAsync(_http, NewUser("plain"));
        Assert.Equal(JsonValueKind.Null, session.GetProperty("labels").ValueKind);
        Assert.Equal("00:30:00", session.GetProperty("idleTimeout").GetString());
        Assert.Equal("08:00:00", session.GetProperty("absoluteTimeout").GetString());
        Assert.Equal(0, session.GetProperty("dataVersion").GetInt64());
        Assert.Equal(0, session.GetProperty("messageCount").GetInt32());
        Assert.Equal(JsonValueKind.Null, session.GetProperty("previousSessionId").ValueKind);
        Assert.Equal(14, session.EnumerateObject().Count());
    }

    [Fact]
    public async Task Create_with_labels_attributes_and_timeouts_starts_the_session_with_them()
    {
        var user = NewUser("details");
        var body = $$"""
            {"userId": "{{user}}", "labels": {"channel": "web", "Device": "ios", "device": "android"},
             "attributes": {"locale": "en", "n": 42, "cart": {"items": [1, 2]}, "flags": [true, null], "skipped": null},
             "idleTimeout": "PT5M", "absoluteTimeout": "01:00:00"}
            """;
        var session = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 201, body);
        var labels = session.GetProperty("labels");
        Assert.Equal(new[] { "Device", "channel", "device" }, labels.EnumerateObject().Select(l => l.Name).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal("ios", labels.GetProperty("Device").GetString());
        Assert.Equal("android", labels.GetProperty("device").GetString());
        Assert.Equal("00:05:00", session.GetProperty("idleTimeout").GetString());
        Assert.Equal("01:00:00", session.GetProperty("absoluteTimeout").GetString());
        Assert.Equal(TimeSpan.FromMinutes(5), session.GetProperty("expiresAt").GetDateTimeOffset() - session.GetProperty("createdAt").GetDateTimeOffset());
        Assert.Equal(1, session.GetProperty("dataVersion").GetInt64());

        var attributes = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{Id(session)}/attributes", 200);
        Assert.Equal(1, attributes.GetProperty("dataVersion").GetInt64());
        var values = attributes.GetProperty("attributes");
        Assert.Equal(new[] { "cart", "flags", "locale", "n" }, values.EnumerateObject().Select(a => a.Name).ToArray());
        Assert.Equal("en", values.GetProperty("locale").GetString());
        Assert.Equal(42, values.GetProperty("n").GetInt32());
        Assert.Equal("[1,2]", Compact(values.GetProperty("cart").GetProperty("items")));
        Assert.Equal("[true,null]", Compact(values.GetProperty("flags")));

        // The same details read back by id.
        var read = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{Id(session)}", 200);
        Assert.Equal(Compact(labels), Compact(read.GetProperty("labels")));
        Assert.Equal("00:05:00", read.GetProperty("idleTimeout").GetString());
    }

    [Fact]
    public async Task Create_with_details_honours_the_idempotency_key()
    {
        var user = NewUser("idem-data");
        var key = Guid.NewGuid().ToString();
        var ids = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/sessions")
            {
                Content = Json($$$"""{"userId": "{{{user}}}", "labels": {"channel": "web"}, "attributes": {"a": 1}}"""),
            };
            request.Headers.Add("Idempotency-Key", key);
            using var response = await _http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            ids.Add(Id(await ReadJsonAsync(response)));
        }
        Assert.Equal(ids[0], ids[1]);
        Assert.Single((await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200)).EnumerateArray());
        var attributes = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{ids[0]}/attributes", 200);
        Assert.Equal(1, attributes.GetProperty("dataVersion").GetInt64());
    }

    [Theory]
    [InlineData("\"labels\": 5", "invalid_labels")]
    [InlineData("\"labels\": [\"web\"]", "invalid_labels")]
    [InlineData("\"labels\": {\"channel\": 1}", "invalid_labels")]
    [InlineData("\"labels\": {\"bad key\": \"x\"}", "invalid_labels")]
    [InlineData("\"labels\": {\"a\": \"x\", \"a\": \"y\"}", "invalid_labels")]
    [InlineData("\"labels\": {\"long\": \"LONG\"}", "invalid_labels")]
    [InlineData("\"labels\": MANY", "invalid_labels")]
    [InlineData("\"idleTimeout\": \"5 minutes\"", "invalid_timeout")]
    [InlineData("\"idleTimeout\": 300", "invalid_timeout")]
    [InlineData("\"idleTimeout\": \"P1M\"", "invalid_timeout")]
    [InlineData("\"idleTimeout\": \"5\"", "invalid_timeout")]
    [InlineData("\"idleTimeout\": \"PT0.5S\"", "invalid_timeout")]
    [InlineData("\"idleTimeout\": \"-00:05:00\"", "invalid_timeout")]
    [InlineData("\"idleTimeout\": \"PT31M\"", "invalid_timeout")]
    [InlineData("\"idleTimeout\": \"00:30:01\"", "invalid_timeout")]
    [InlineData("\"absoluteTimeout\": \"PT8H1S\"", "invalid_timeout")]
    [InlineData("\"attributes\": \"x\"", "invalid_json")]
    [InlineData("\"attributes\": {\"bad key\": 1}", "invalid_attribute_key")]
    [InlineData("\"attributes\": {\"a\": 1, \"a\": 2}", "invalid_attribute_key")]
    [InlineData("\"continueFrom\": \"not-a-session\"", "invalid_session_id")]
    [InlineData("\"continueFrom\": 5", "invalid_json")]
    public async Task Create_with_bad_details_is_400_and_creates_nothing(string member, string code)
    {
        var user = NewUser("bad-details");
        member = member
            .Replace("LONG", new string('v', 257), StringComparison.Ordinal)
            .Replace("MANY", "{" + string.Join(", ", Enumerable.Range(0, 17).Select(i => $"\"k{i}\": \"v\"")) + "}", StringComparison.Ordinal);
        var error = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 400, $$"""{"userId": "{{user}}", {{member}}}""");
        AssertError(error, code);
        AssertNoInternals(error);
        Assert.Equal(0, (await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200)).GetArrayLength());
    }

    [Theory]
    [InlineData("PT5M", "00:05:00")]
    [InlineData("pt10m", "00:10:00")]
    [InlineData("PT0.5S", null)]
    [InlineData("00:00:01", "00:00:01")]
    [InlineData("PT30M", "00:30:00")]
    public async Task Timeouts_are_iso_8601_durations_or_hh_mm_ss_from_1_s_to_the_maximum(string idleTimeout, string? expected)
    {
        var body = JsonSerializer.Serialize(new { userId = NewUser("timeouts"), idleTimeout });
        if (expected is null)
        {
            AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 400, body), "invalid_timeout");
            return;
        }
        var session = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 201, body);
        Assert.Equal(expected, session.GetProperty("idleTimeout").GetString());
    }

    [Fact]
    public async Task Create_with_attributes_over_the_bound_is_413_with_the_bound_and_creates_nothing()
    {
        var user = NewUser("too-large");
        var body = JsonSerializer.Serialize(new { userId = user, attributes = new { big = new string('x', 16_400) } });
        var error = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 413, body);
        AssertError(error, "data_too_large");
        Assert.Equal("Sessions:MaxAttributesBytes", error.GetProperty("bound").GetString());
        Assert.Equal(16384, error.GetProperty("limit").GetInt64());
        Assert.Equal(0, (await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200)).GetArrayLength());
    }

    [Fact]
    public async Task Attributes_are_set_and_removed_in_one_patch_each_a_new_version()
    {
        var id = Id(await CreateAsync(_http, NewUser("attrs")));
        var empty = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/attributes", 200);
        Assert.Equal(0, empty.GetProperty("dataVersion").GetInt64());
        Assert.Empty(empty.GetProperty("attributes").EnumerateObject());

        var first = await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 200,
            """{"attributes": {"locale": "en", "Locale": "fr", "n": 42, "prefs": {"dark": true, "sizes": [1, 2.5]}}}""");
        Assert.Equal(1, first.GetProperty("dataVersion").GetInt64());
        Assert.Equal("""{"Locale":"fr","locale":"en","n":42,"prefs":{"dark":true,"sizes":[1,2.5]}}""", Compact(first.GetProperty("attributes")));

        var second = await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 200,
            """{"attributes": {"n": null, "locale": "de", "absent": null}, "ifVersion": 1}""");
        Assert.Equal(2, second.GetProperty("dataVersion").GetInt64());
        Assert.Equal("""{"Locale":"fr","locale":"de","prefs":{"dark":true,"sizes":[1,2.5]}}""", Compact(second.GetProperty("attributes")));

        var read = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/attributes", 200);
        Assert.Equal(Compact(second), Compact(read));
        var session = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        Assert.Equal(2, session.GetProperty("dataVersion").GetInt64());
    }

    [Fact]
    public async Task Values_and_metadata_are_stored_as_compact_json_whatever_the_callers_escapes()
    {
        var id = Id(await CreateAsync(_http, NewUser("escapes")));
        // 8,000 two-byte characters sent as \u00E9 (48 KB of JSON) count as the 16,000 bytes they are.
        var big = new string('é', 8_000);
        var patched = await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 200,
            JsonSerializer.Serialize(new { attributes = new { big } }));
        Assert.Equal(big, patched.GetProperty("attributes").GetProperty("big").GetString());
        var mixed = await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 200,
            """{"attributes": {"e": "\u00e9\ud83c\udf89\n\"", "o": { "a" : [ 1 , 2.50 ] }}}""");
        Assert.Equal("é🎉\n\"", mixed.GetProperty("attributes").GetProperty("e").GetString());
        Assert.Equal("""{"a":[1,2.50]}""", Compact(mixed.GetProperty("attributes").GetProperty("o")));
        var appended = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200,
            """{"messages": [{"role": "user", "content": "\u00e9", "metadata": { "k" : "\u00e9" }}]}""");
        var message = appended.GetProperty("messages")[0];
        Assert.Equal("é", message.GetProperty("content").GetString());
        Assert.Equal("é", message.GetProperty("metadata").GetProperty("k").GetString());

        // A string that is not Unicode text is a caller's mistake.
        foreach (var body in new[] { """{"attributes": {"a": "\ud800"}}""", """{"attributes": {"\udc00": 1}}""" })
        {
            AssertError(await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 400, body), "invalid_json");
        }
        AssertError(await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 400, """{"messages": [{"role": "user", "content": "\ud800"}]}"""), "invalid_json");
        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 400, """{"userId": "u\ud800"}"""), "invalid_json");
    }

    [Fact]
    public async Task A_data_write_is_activity_and_a_read_is_not()
    {
        var created = await CreateAsync(_http, NewUser("activity"));
        var id = Id(created);
        await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/attributes", 200);
        await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages", 200);
        var afterReads = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        Assert.Equal(created.GetProperty("lastActivity").GetString(), afterReads.GetProperty("lastActivity").GetString());

        await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 200, """{"attributes": {"a": 1}}""");
        var afterPatch = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        Assert.True(afterPatch.GetProperty("lastActivity").GetDateTimeOffset() > created.GetProperty("lastActivity").GetDateTimeOffset());
        Assert.Equal(TimeSpan.FromMinutes(30), afterPatch.GetProperty("expiresAt").GetDateTimeOffset() - afterPatch.GetProperty("lastActivity").GetDateTimeOffset());

        var appended = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, """{"messages": [{"role": "user", "content": "hi"}]}""");
        var session = appended.GetProperty("session");
        Assert.True(session.GetProperty("lastActivity").GetDateTimeOffset() > afterPatch.GetProperty("lastActivity").GetDateTimeOffset());
        Assert.Equal(TimeSpan.FromMinutes(30), session.GetProperty("expiresAt").GetDateTimeOffset() - session.GetProperty("lastActivity").GetDateTimeOffset());
    }

    [Fact]
    public async Task A_write_naming_another_version_is_409_with_the_current_version_and_changes_nothing()
    {
        var id = Id(await CreateAsync(_http, NewUser("conflict")));
        await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 200, """{"attributes": {"a": 1}}""");
        await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, """{"messages": [{"role": "user", "content": "one"}], "ifVersion": 1}""");
        var before = await ReadDataAsync(id);

        var patch = await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 409, """{"attributes": {"a": 2, "b": 3}, "ifVersion": 1}""");
        AssertError(patch, "version_conflict");
        Assert.Equal(2, patch.GetProperty("dataVersion").GetInt64());
        var append = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 409, """{"messages": [{"role": "user", "content": "two"}], "ifVersion": 5}""");
        AssertError(append, "version_conflict");
        Assert.Equal(2, append.GetProperty("dataVersion").GetInt64());

        Assert.Equal(before, await ReadDataAsync(id));
    }

    [Theory]
    [InlineData("""{"attributes": {"bad key": 1}}""", 400, "invalid_attribute_key")]
    [InlineData("""{"attributes": {"ok": 1, "ok": 2}}""", 400, "invalid_attribute_key")]
    [InlineData("""{"attributes": [1]}""", 400, "invalid_json")]
    [InlineData("""{"ifVersion": 1}""", 400, "invalid_json")]
    [InlineData("""{"attributes": {"a": 1}, "ifVersion": "1"}""", 400, "invalid_json")]
    [InlineData("""{"attributes": {"a": 1}, "ifVersion": 1.5}""", 400, "invalid_json")]
    [InlineData("""{"attributes": {"a": 1}""", 400, "invalid_json")]
    [InlineData("""[]""", 400, "invalid_json")]
    [InlineData("", 400, "invalid_json")]
    [InlineData("BIG", 413, "data_too_large")]
    public async Task A_refused_attributes_patch_answers_its_error_and_changes_nothing(string body, int status, string code)
    {
        var id = Id(await CreateAsync(_http, NewUser("patch-bad")));
        await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 200, """{"attributes": {"kept": "yes"}}""");
        var before = await ReadDataAsync(id);
        if (body == "BIG")
        {
            body = JsonSerializer.Serialize(new { attributes = new { big = new string('x', 16_400) } });
        }
        var error = await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", status, body);
        AssertError(error, code);
        AssertNoInternals(error);
        if (status == 413)
        {
            Assert.Equal("Sessions:MaxAttributesBytes", error.GetProperty("bound").GetString());
            Assert.Equal(16384, error.GetProperty("limit").GetInt64());
        }
        Assert.Equal(before, await ReadDataAsync(id));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData(null)]
    public async Task A_patch_or_append_whose_body_is_not_declared_application_json_is_415(string? contentType)
    {
        var id = Id(await CreateAsync(_http, NewUser("media")));
        foreach (var (method, path, body) in new[]
        {
            (HttpMethod.Patch, $"/api/sessions/{id}/attributes", """{"attributes": {"a": 1}}"""),
            (HttpMethod.Post, $"/api/sessions/{id}/messages", """{"messages": [{"role": "user", "content": "x"}]}"""),
        })
        {
            using var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
            using var response = await _http.SendAsync(request);
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
            AssertError(await ReadJsonAsync(response), "unsupported_media_type");
        }
        var data = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        Assert.Equal(0, data.GetProperty("dataVersion").GetInt64());
    }

    [Fact]
    public async Task Messages_are_appended_with_ids_and_read_as_the_last_n_or_after_an_id()
    {
        var id = Id(await CreateAsync(_http, NewUser("messages")));
        var turn = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, """
            {"messages": [{"role": "user", "content": "Hello \"there\"\nline 2 é ✓ 🎉"},
                          {"role": "assistant", "content": "Hi!", "metadata": {"model": "seed", "tokens": [1, 2]}}]}
            """);
        Assert.Equal(1, turn.GetProperty("dataVersion").GetInt64());
        var stored = turn.GetProperty("messages").EnumerateArray().ToArray();
        Assert.Equal(new[] { 1L, 2L }, stored.Select(m => m.GetProperty("id").GetInt64()).ToArray());
        Assert.Equal("Hello \"there\"\nline 2 é ✓ 🎉", stored[0].GetProperty("content").GetString());
        Assert.Equal("user", stored[0].GetProperty("role").GetString());
        Assert.False(stored[0].TryGetProperty("metadata", out _));
        Assert.Equal("""{"model":"seed","tokens":[1,2]}""", Compact(stored[1].GetProperty("metadata")));
        Assert.EndsWith("Z", stored[0].GetProperty("at").GetString(), StringComparison.Ordinal);
        Assert.Equal(4, stored[0].EnumerateObject().Count());
        var session = turn.GetProperty("session");
        Assert.Equal(id, session.GetProperty("sessionId").GetString());
        Assert.Equal(2, session.GetProperty("messageCount").GetInt32());
        Assert.Equal(1, session.GetProperty("dataVersion").GetInt64());

        for (var i = 3; i <= 5; i++)
        {
            await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, $$"""{"messages": [{"role": "tool", "content": "m{{i}}"}]}""");
        }
        var all = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages", 200);
        Assert.Equal(4, all.GetProperty("dataVersion").GetInt64());
        Assert.Equal(0, all.GetProperty("trimmed").GetInt64());
        Assert.Equal(3, all.EnumerateObject().Count());
        Assert.Equal(new[] { 1L, 2L, 3L, 4L, 5L }, Ids(all));
        Assert.Equal(Compact(turn.GetProperty("messages")), Compact(JsonSerializer.SerializeToElement(all.GetProperty("messages").EnumerateArray().Take(2))));

        Assert.Equal(new[] { 4L, 5L }, Ids(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages?limit=2", 200)));
        Assert.Equal(new[] { 3L, 4L, 5L }, Ids(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages?after=2", 200)));
        Assert.Equal(new[] { 3L }, Ids(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages?after=2&limit=1", 200)));
        Assert.Empty(Ids(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages?after=5", 200)));
        Assert.Equal(5, (await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200)).GetProperty("messageCount").GetInt32());
    }

    [Theory]
    [InlineData("limit=0", "invalid_limit")]
    [InlineData("limit=1001", "invalid_limit")]
    [InlineData("limit=abc", "invalid_limit")]
    [InlineData("limit=-1", "invalid_limit")]
    [InlineData("after=abc", "invalid_cursor")]
    [InlineData("after=-1", "invalid_cursor")]
    [InlineData("after=1.5", "invalid_cursor")]
    [InlineData("after=99999999999999999999", "invalid_cursor")]
    public async Task Reading_messages_with_a_bad_limit_or_cursor_is_400(string query, string code)
    {
        var id = Id(await CreateAsync(_http, NewUser("read-bad")));
        AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages?{query}", 400), code);
    }

    [Theory]
    [InlineData("""{"messages": []}""", 400, "invalid_message")]
    [InlineData("""{"messages": "hi"}""", 400, "invalid_message")]
    [InlineData("""{}""", 400, "invalid_message")]
    [InlineData("""{"messages": ["hi"]}""", 400, "invalid_message")]
    [InlineData("""{"messages": [{"role": "robot", "content": "x"}]}""", 400, "invalid_message")]
    [InlineData("""{"messages": [{"role": 1, "content": "x"}]}""", 400, "invalid_message")]
    [InlineData("""{"messages": [{"role": "user"}]}""", 400, "invalid_message")]
    [InlineData("""{"messages": [{"role": "user", "content": 5}]}""", 400, "invalid_message")]
    [InlineData("""{"messages": [{"role": "user", "content": "x", "metadata": [1]}]}""", 400, "invalid_message")]
    [InlineData("""{"messages": [{"role": "user", "content": "x"}, {"role": "nobody", "content": "y"}]}""", 400, "invalid_message")]
    [InlineData("""{"messages": [{"role": "user", "content": "x"}], "ifVersion": -1}""", 400, "invalid_json")]
    [InlineData("""{"messages": [""", 400, "invalid_json")]
    [InlineData("""[{"role": "user", "content": "x"}]""", 400, "invalid_json")]
    [InlineData("BIG", 413, "data_too_large")]
    public async Task A_refused_append_answers_its_error_and_changes_nothing(string body, int status, string code)
    {
        var id = Id(await CreateAsync(_http, NewUser("append-bad")));
        await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, """{"messages": [{"role": "user", "content": "kept"}]}""");
        var before = await ReadDataAsync(id);
        if (body == "BIG")
        {
            // One message over Sessions:MaxConversationBytes (role and content: 4 + 262,141 bytes).
            body = JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = new string('x', 262_141) } } });
        }
        var error = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", status, body);
        AssertError(error, code);
        AssertNoInternals(error);
        if (status == 413)
        {
            Assert.Equal("Sessions:MaxConversationBytes", error.GetProperty("bound").GetString());
            Assert.Equal(262144, error.GetProperty("limit").GetInt64());
        }
        Assert.Equal(before, await ReadDataAsync(id));
    }

    [Fact]
    public async Task A_message_at_the_conversation_bound_is_stored()
    {
        var id = Id(await CreateAsync(_http, NewUser("at-bound")));
        var content = new string('x', 262_140);
        var appended = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200,
            JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content } } }));
        Assert.Equal(1, appended.GetProperty("session").GetProperty("messageCount").GetInt32());
        var read = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages", 200);
        Assert.Equal(content, Assert.Single(read.GetProperty("messages").EnumerateArray()).GetProperty("content").GetString());
    }

    [Fact]
    public async Task Data_routes_answer_400_for_a_malformed_id_and_404_for_an_unknown_session()
    {
        var unknown = $"sess_{Guid.NewGuid():D}";
        foreach (var (method, suffix, body) in DataRoutes)
        {
            AssertError(await SendAsync(_http, method, $"/api/sessions/not-a-session/{suffix}", 400, body), "invalid_session_id");
            AssertError(await SendAsync(_http, method, $"/api/sessions/{unknown}/{suffix}", 404, body), "session_not_found");
        }
    }

    [Fact]
    public async Task With_no_retention_data_reads_answer_410_after_the_end_and_writes_409_as_a_touch_does()
    {
        var created = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 201,
            $$$"""{"userId": "{{{NewUser("ended")}}}", "attributes": {"a": 1}}""");
        var id = Id(created);
        await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, """{"messages": [{"role": "user", "content": "x"}]}""");
        await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{id}", 200);

        AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/attributes", 410), "session_data_deleted");
        AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages", 410), "session_data_deleted");
        AssertError(await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 409, """{"attributes": {"a": 2}}"""), "session_closed");
        AssertError(await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 409, """{"messages": [{"role": "user", "content": "y"}]}"""), "session_closed");
        Assert.Equal("closed", (await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Writes_to_an_expired_session_are_409_session_expired_and_its_data_is_gone()
    {
        var created = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 201,
            $$$"""{"userId": "{{{NewUser("expired")}}}", "idleTimeout": "PT1S", "attributes": {"a": 1}}""");
        var id = Id(created);
        await WaitUntilAsync(created.GetProperty("expiresAt").GetDateTimeOffset());

        AssertError(await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 409, """{"messages": [{"role": "user", "content": "late"}]}"""), "session_expired");
        AssertError(await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 409, """{"attributes": {"a": 2}}"""), "session_expired");
        AssertError(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/attributes", 410), "session_data_deleted");
        Assert.Equal("expired", (await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Continuing_a_session_whose_data_was_deleted_is_410_and_creates_nothing()
    {
        var user = NewUser("cont-gone");
        var id = Id(await CreateAsync(_http, user));
        await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, """{"messages": [{"role": "user", "content": "x"}]}""");
        await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{id}", 200);

        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 410, $$"""{"userId": "{{user}}", "continueFrom": "{{id}}"}"""), "session_data_deleted");
        Assert.Equal(0, (await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200)).GetArrayLength());
    }

    [Fact]
    public async Task Events_carry_labels_and_counts_but_no_words()
    {
        var user = NewUser("sse-data");
        var marker = "words-" + Guid.NewGuid().ToString("N");
        await using var stream = await SseReader.OpenAsync(_http, $"/api/events?userId={user}");
        var created = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 201,
            $$$"""{"userId": "{{{user}}}", "labels": {"Channel": "web"}, "attributes": {"secret": "{{{marker}}}"}}""");
        var id = Id(created);
        await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200,
            $$$"""{"messages": [{"role": "user", "content": "{{{marker}}}", "metadata": {"m": "{{{marker}}}"}}]}""");
        await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{id}", 200);

        var events = await stream.ReadEventsUntilAsync(e => e.Any(x => x.GetProperty("type").GetString() == "closed"), TimeSpan.FromSeconds(20));
        Assert.Equal(new[] { "created", "closed" }, events.Select(e => e.GetProperty("type").GetString()).ToArray());
        Assert.All(events, e =>
        {
            Assert.Equal("web", e.GetProperty("session").GetProperty("labels").GetProperty("Channel").GetString());
            Assert.DoesNotContain(marker, e.GetRawText(), StringComparison.Ordinal);
        });
        Assert.Equal(1, events[0].GetProperty("session").GetProperty("dataVersion").GetInt64());
        // The closed session reports what its conversation held at the end (its data is deleted with the end).
        Assert.Equal(1, events[1].GetProperty("session").GetProperty("messageCount").GetInt32());
        Assert.Equal(2, events[1].GetProperty("session").GetProperty("dataVersion").GetInt64());

        var recent = await SendAsync(_http, HttpMethod.Get, $"/api/events/recent?userId={user}", 200);
        Assert.Equal(2, recent.GetArrayLength());
        Assert.DoesNotContain(marker, recent.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Users_words_never_reach_the_log()
    {
        var user = NewUser("no-log");
        var marker = "words-" + Guid.NewGuid().ToString("N");
        var id = Id(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 201, $$$"""{"userId": "{{{user}}}", "attributes": {"secret": "{{{marker}}}"}}"""));
        await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 200, $$$"""{"attributes": {"other": ["{{{marker}}}"]}}""");
        await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, $$$"""{"messages": [{"role": "user", "content": "{{{marker}}}", "metadata": {"m": "{{{marker}}}"}}]}""");
        // Refused writes: a bad role, a value too large, a version conflict, a key that is not one.
        await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 400, $$"""{"messages": [{"role": "{{marker}}", "content": "{{marker}}"}]}""");
        await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 413, JsonSerializer.Serialize(new { attributes = new { big = marker + new string('x', 16_400) } }));
        await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 409, $$"""{"attributes": {"a": "{{marker}}"}, "ifVersion": 99}""");
        await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 400, $$$"""{"attributes": {"{{{marker}}} key": 1}}""");
        await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{id}", 200);

        // The session's end is logged: the log is being captured.
        await Wait.UntilAsync(() => fixture.Logs.Any(line => line.Contains(id, StringComparison.Ordinal)), TimeSpan.FromSeconds(10), "the session's end in the log");
        Assert.DoesNotContain(fixture.Logs, line => line.Contains(marker, StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenApi_document_describes_the_data_routes_and_bodies()
    {
        var document = await SendAsync(_http, HttpMethod.Get, "/openapi/v1.json", 200);
        var paths = document.GetProperty("paths");
        Assert.True(paths.GetProperty("/api/sessions/{sessionId}/attributes").TryGetProperty("get", out _));
        Assert.True(paths.GetProperty("/api/sessions/{sessionId}/messages").TryGetProperty("get", out _));
        foreach (var (path, method, members) in new[]
        {
            ("/api/sessions", "post", new[] { "userId", "labels", "attributes", "idleTimeout", "absoluteTimeout", "continueFrom" }),
            ("/api/sessions/{sessionId}/attributes", "patch", new[] { "attributes", "ifVersion" }),
            ("/api/sessions/{sessionId}/messages", "post", new[] { "messages", "ifVersion" }),
        })
        {
            var body = paths.GetProperty(path).GetProperty(method).GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
            foreach (var member in members)
            {
                Assert.True(body.GetProperty("properties").TryGetProperty(member, out _), $"{method} {path} lacks {member}");
            }
        }
        var schemas = document.GetProperty("components").GetProperty("schemas");
        foreach (var name in new[] { "AttributesResponse", "MessagesResponse", "AppendMessagesResponse", "ConversationMessage", "DataTooLargeError", "VersionConflictError" })
        {
            Assert.True(schemas.TryGetProperty(name, out _), $"OpenAPI lacks the schema {name}");
        }
        var info = schemas.GetProperty("SessionInfo").GetProperty("properties");
        foreach (var name in new[] { "labels", "idleTimeout", "absoluteTimeout", "dataVersion", "messageCount", "previousSessionId" })
        {
            Assert.True(info.TryGetProperty(name, out _), $"SessionInfo lacks {name}");
        }
        Assert.True(schemas.GetProperty("DataTooLargeError").GetProperty("properties").TryGetProperty("bound", out _));
        Assert.True(schemas.GetProperty("VersionConflictError").GetProperty("properties").TryGetProperty("dataVersion", out _));
    }

    internal static readonly (HttpMethod Method, string Suffix, string? Body)[] DataRoutes =
    [
        (HttpMethod.Get, "attributes", null),
        (HttpMethod.Patch, "attributes", """{"attributes": {"a": 1}}"""),
        (HttpMethod.Get, "messages", null),
        (HttpMethod.Post, "messages", """{"messages": [{"role": "user", "content": "x"}]}"""),
    ];

    internal static string Id(JsonElement session) => session.GetProperty("sessionId").GetString()!;

    internal static long[] Ids(JsonElement conversation) => conversation.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetInt64()).ToArray();

    internal static string Compact(JsonElement element) => JsonSerializer.Serialize(element);

    /// <summary>The session's attributes, conversation and data version as one text, to compare before and after a refused write.</summary>
    private async Task<string> ReadDataAsync(string id)
    {
        var attributes = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/attributes", 200);
        var messages = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages", 200);
        var session = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        return $"{Compact(attributes)} {Compact(messages)} {session.GetProperty("dataVersion").GetInt64()} {session.GetProperty("messageCount").GetInt32()}";
    }

    /// <summary>The detail speaks of the request, never of .NET types or serializer internals.</summary>
    internal static void AssertNoInternals(JsonElement error)
    {
        var detail = error.GetProperty("detail").GetString()!;
        foreach (var internals in new[] { "System.", "OrleansSessions.", "LineNumber", "BytePosition", "Path: $", "Exception", "(Parameter" })
        {
            Assert.DoesNotContain(internals, detail, StringComparison.Ordinal);
        }
    }
}

/// <summary>
/// Retained data and continuation, trimming and the token check, on the silo host with Sessions:DataRetention 10
/// minutes, Sessions:ConversationLimit 5, Sessions:ContinueMessages 3 and Security:ApiToken.
/// </summary>
[Collection(DataRetentionAppCollection.Name)]
public sealed class RetainedSessionDataApiTests(DataRetentionAppFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Past_the_conversation_limit_the_oldest_are_dropped_and_reads_say_how_many()
    {
        var id = SessionDataApiTests.Id(await CreateAsync(_http, NewUser("trim")));
        await AppendAsync(id, "m1", "m2", "m3", "m4");
        var appended = await AppendAsync(id, "m5", "m6", "m7");
        Assert.Equal(new[] { 5L, 6L, 7L }, appended.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetInt64()).ToArray());
        Assert.Equal(DataRetentionAppFixture.ConversationLimit, appended.GetProperty("session").GetProperty("messageCount").GetInt32());

        var read = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages", 200);
        Assert.Equal(2, read.GetProperty("trimmed").GetInt64());
        Assert.Equal(new[] { 3L, 4L, 5L, 6L, 7L }, SessionDataApiTests.Ids(read));
        Assert.Equal("m3", read.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal(new[] { 3L, 4L }, SessionDataApiTests.Ids(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages?after=0&limit=2", 200)));

        await AppendAsync(id, "m8");
        var again = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages", 200);
        Assert.Equal(3, again.GetProperty("trimmed").GetInt64());
        Assert.Equal(new[] { 4L, 5L, 6L, 7L, 8L }, SessionDataApiTests.Ids(again));

        // More messages than the conversation holds in one append is refused, and changes nothing.
        AssertError(await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 400, Messages("a", "b", "c", "d", "e", "f")), "invalid_message");
        Assert.Equal(SessionDataApiTests.Compact(again), SessionDataApiTests.Compact(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages", 200)));
    }

    [Fact]
    public async Task An_ended_sessions_data_stays_readable_and_read_only_and_a_continuation_starts_with_it()
    {
        var user = NewUser("continue");
        var first = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 201,
            $$$"""{"userId": "{{{user}}}", "labels": {"channel": "web", "locale": "en"}, "attributes": {"topic": "billing", "step": 2}}""");
        var firstId = SessionDataApiTests.Id(first);
        await AppendAsync(firstId, "one", "two");
        await AppendAsync(firstId, "three", "four");
        await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{firstId}", 200);

        // Retained: readable, not writable.
        var retained = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{firstId}/attributes", 200);
        Assert.Equal("billing", retained.GetProperty("attributes").GetProperty("topic").GetString());
        Assert.Equal(4, SessionDataApiTests.Ids(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{firstId}/messages", 200)).Length);
        AssertError(await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{firstId}/attributes", 409, """{"attributes": {"step": 3}}"""), "session_closed");

        var second = await SendAsync(_http, HttpMethod.Post, "/api/sessions", 201,
            $$$"""{"userId": "{{{user}}}", "continueFrom": "{{{firstId}}}", "labels": {"locale": "fr"}, "attributes": {"step": 3}}""");
        var secondId = SessionDataApiTests.Id(second);
        Assert.NotEqual(firstId, secondId);
        Assert.Equal(firstId, second.GetProperty("previousSessionId").GetString());
        Assert.Equal("""{"channel":"web","locale":"fr"}""", SortedObject(second.GetProperty("labels")));
        Assert.Equal(DataRetentionAppFixture.ContinueMessages, second.GetProperty("messageCount").GetInt32());
        Assert.Equal("active", second.GetProperty("status").GetString());

        var attributes = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{secondId}/attributes", 200);
        Assert.Equal("""{"step":3,"topic":"billing"}""", SortedObject(attributes.GetProperty("attributes")));
        var messages = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{secondId}/messages", 200);
        Assert.Equal(new[] { "two", "three", "four" }, messages.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()).ToArray());
        Assert.Equal(new[] { 1L, 2L, 3L }, SessionDataApiTests.Ids(messages));
        var next = await AppendAsync(secondId, "five");
        Assert.Equal(4, next.GetProperty("messages")[0].GetProperty("id").GetInt64());

        // The continued session's data is untouched.
        Assert.Equal(4, SessionDataApiTests.Ids(await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{firstId}/messages", 200)).Length);
    }

    [Fact]
    public async Task A_continuation_of_another_users_a_live_or_an_unknown_session_is_refused_and_creates_nothing()
    {
        var user = NewUser("cont-no");
        var live = SessionDataApiTests.Id(await CreateAsync(_http, user));
        var other = SessionDataApiTests.Id(await CreateAsync(_http, NewUser("cont-other")));
        await SendAsync(_http, HttpMethod.Delete, $"/api/sessions/{other}", 200);

        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 409, $$"""{"userId": "{{user}}", "continueFrom": "{{other}}"}"""), "continuation_not_allowed");
        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 409, $$"""{"userId": "{{user}}", "continueFrom": "{{live}}"}"""), "continuation_not_allowed");
        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 404, $$"""{"userId": "{{user}}", "continueFrom": "sess_{{Guid.NewGuid():D}}"}"""), "session_not_found");

        var sessions = await SendAsync(_http, HttpMethod.Get, $"/api/users/{user}/sessions", 200);
        Assert.Equal(new[] { live }, sessions.EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()).ToArray());
    }

    [Fact]
    public async Task Data_routes_need_the_token()
    {
        var id = SessionDataApiTests.Id(await CreateAsync(_http, NewUser("token")));
        using var anonymous = fixture.App.CreateClient();
        foreach (var (method, suffix, body) in SessionDataApiTests.DataRoutes)
        {
            using var request = new HttpRequestMessage(method, $"/api/sessions/{id}/{suffix}");
            if (body is not null)
            {
                request.Content = Json(body);
            }
            using var response = await anonymous.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        var session = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200);
        Assert.Equal(0, session.GetProperty("dataVersion").GetInt64());
    }

    private Task<JsonElement> AppendAsync(string id, params string[] contents)
        => SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, Messages(contents));

    private static string Messages(params string[] contents)
        => JsonSerializer.Serialize(new { messages = contents.Select(c => new { role = "user", content = c }) });

    private static string SortedObject(JsonElement element)
        => JsonSerializer.Serialize(element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).ToDictionary(p => p.Name, p => p.Value));
}

/// <summary>
/// The request body limit on a silo process (TestServer has none) with the default settings: Http:MaxRequestBodySize
/// 64 KiB for the other routes, while an append takes a message at the default Sessions:MaxConversationBytes bound.
/// </summary>
[Collection(DefaultSiloCollection.Name)]
public sealed class SessionDataBodySizeTests(DefaultSiloFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task A_message_at_the_conversation_bound_is_appendable_over_http_with_the_default_limits()
    {
        var id = SessionDataApiTests.Id(await CreateAsync(_http, NewUser("big-body")));
        // 131,070 two-byte characters: role and content take exactly 262,144 bytes of UTF-8, and the JSON escapes each
        // as \u00E9 (786 KB on the wire).
        var content = new string('é', 131_070);
        var body = JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content } } });
        Assert.True(body.Length > 700_000);
        var appended = await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 200, body);
        Assert.Equal(1, appended.GetProperty("session").GetProperty("messageCount").GetInt32());
        var read = await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}/messages", 200);
        Assert.Equal(content, Assert.Single(read.GetProperty("messages").EnumerateArray()).GetProperty("content").GetString());

        // Attributes as large as their bound, escaped the same way, also fit.
        var value = new string('é', 8_000);
        var patched = await SendAsync(_http, HttpMethod.Patch, $"/api/sessions/{id}/attributes", 200, JsonSerializer.Serialize(new { attributes = new { value } }));
        Assert.Equal(value, patched.GetProperty("attributes").GetProperty("value").GetString());
    }

    [Fact]
    public async Task A_data_body_over_1_MiB_and_other_bodies_over_64_KiB_are_413_body_too_large()
    {
        var id = SessionDataApiTests.Id(await CreateAsync(_http, NewUser("too-big")));
        var huge = JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = new string('x', 1_100_000) } } });
        AssertError(await SendAsync(_http, HttpMethod.Post, $"/api/sessions/{id}/messages", 413, huge), "body_too_large");
        var big = JsonSerializer.Serialize(new { userId = "u", attributes = new { pad = new string('p', 100_000) } });
        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 413, big), "body_too_large");
        Assert.Equal(0, (await SendAsync(_http, HttpMethod.Get, $"/api/sessions/{id}", 200)).GetProperty("dataVersion").GetInt64());
    }
}
