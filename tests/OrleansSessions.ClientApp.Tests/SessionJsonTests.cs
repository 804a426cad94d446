using System.Text.Json;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>The wire form of the session data (SessionJson), shared by the HTTP API and the client app.</summary>
public sealed class SessionJsonTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 1, 14, 0, 0, TimeSpan.Zero);

    private static string Write<T>(T value) => JsonSerializer.Serialize(value, SessionJson.Options);

    private static T Read<T>(string json) => JsonSerializer.Deserialize<T>(json, SessionJson.Options)!;

    [Fact]
    public void Attribute_values_are_written_as_the_json_values_they_are()
    {
        var attributes = new SessionAttributes(3, new Dictionary<string, string> { ["lang"] = "\"en\"", ["n"] = "42", ["Obj"] = "{\"a\":[1,null]}", ["t"] = "true" });

        var json = Write(attributes);

        Assert.Equal("{\"dataVersion\":3,\"attributes\":{\"lang\":\"en\",\"n\":42,\"Obj\":{\"a\":[1,null]},\"t\":true}}", json);
        var back = Read<SessionAttributes>(json);
        Assert.Equal(3, back.DataVersion);
        Assert.Equal(attributes.Attributes, back.Attributes);
    }

    [Fact]
    public void Messages_carry_their_metadata_as_a_json_object()
    {
        var conversation = new SessionConversation(7, 2,
        [
            new SessionMessage(3, MessageRoles.User, "hola", At, "{\"channel\":\"web\"}"),
            new SessionMessage(4, MessageRoles.Assistant, "¡hola!", At.AddSeconds(1.5)),
        ]);

        var json = Write(conversation);

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(["dataVersion", "trimmed", "messages"], root.EnumerateObject().Select(p => p.Name));
        var first = root.GetProperty("messages")[0];
        Assert.Equal(["id", "role", "content", "at", "metadata"], first.EnumerateObject().Select(p => p.Name));
        Assert.Equal("2026-01-01T14:00:00Z", first.GetProperty("at").GetString());
        Assert.Equal("web", first.GetProperty("metadata").GetProperty("channel").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("messages")[1].GetProperty("metadata").ValueKind);
        Assert.Equal("2026-01-01T14:00:01.5Z", root.GetProperty("messages")[1].GetProperty("at").GetString());

        var back = Read<SessionConversation>(json);
        Assert.Equal((7, 2), (back.DataVersion, back.Trimmed));
        Assert.Equal(conversation.Messages, back.Messages);
    }

    [Fact]
    public void An_append_result_is_data_version_messages_and_session()
    {
        var session = new SessionInfo { SessionId = SessionKeys.NewSessionId(), UserId = "u", IdleTimeout = TimeSpan.FromMinutes(30), AbsoluteTimeout = TimeSpan.FromDays(2), MessageCount = 1, DataVersion = 1 };
        var json = Write(new SessionAppendResult(1, [new SessionMessage(1, MessageRoles.User, "hi", At)], session));

        using var document = JsonDocument.Parse(json);
        Assert.Equal(["dataVersion", "messages", "session"], document.RootElement.EnumerateObject().Select(p => p.Name));
        var info = document.RootElement.GetProperty("session");
        Assert.Equal("00:30:00", info.GetProperty("idleTimeout").GetString());
        Assert.Equal("2.00:00:00", info.GetProperty("absoluteTimeout").GetString());
        Assert.Equal(JsonValueKind.Null, info.GetProperty("labels").ValueKind);
        Assert.Equal(JsonValueKind.Null, info.GetProperty("previousSessionId").ValueKind);
        Assert.Equal(session, Read<SessionAppendResult>(json).Session);
    }

    [Fact]
    public void Label_keys_are_written_as_given()
    {
        var session = new SessionInfo { SessionId = SessionKeys.NewSessionId(), UserId = "u", Labels = new Dictionary<string, string> { ["Device"] = "Phone", ["app.Version"] = "2" } };

        using var document = JsonDocument.Parse(Write(session));

        Assert.Equal(["Device", "app.Version"], document.RootElement.GetProperty("labels").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void New_messages_read_metadata_as_json_text_and_leave_malformed_ones_for_the_silo()
    {
        var message = Read<NewSessionMessage>("{\"role\":\"user\",\"content\":\"hola\",\"metadata\":{\"a\": [1, 2]}}");
        Assert.Equal(new NewSessionMessage("user", "hola", "{\"a\": [1, 2]}"), message);
        Assert.Equal(new NewSessionMessage("user", "x"), Read<NewSessionMessage>("{\"role\":\"user\",\"content\":\"x\",\"metadata\":null}"));
        // Not an object, or parts missing: passed on as they are, for the grain to refuse (invalid_message).
        Assert.Equal("[1]", Read<NewSessionMessage>("{\"role\":\"user\",\"content\":\"x\",\"metadata\":[1]}").Metadata);
        Assert.Null(Read<NewSessionMessage>("{\"content\":\"x\"}").Role);
        Assert.Throws<JsonException>(() => Read<NewSessionMessage>("{\"role\":1,\"content\":\"x\"}"));
        Assert.Equal("{\"role\":\"tool\",\"content\":\"r\",\"metadata\":{\"k\":1}}", Write(new NewSessionMessage("tool", "r", "{\"k\":1}")));
    }

    [Theory]
    [InlineData("00:05:00", 300)]
    [InlineData("1.00:00:00", 86400)]
    [InlineData("00:00:01.5", 1.5)]
    [InlineData("PT5M", 300)]
    [InlineData("PT1H30M", 5400)]
    [InlineData("P1DT2H", 93600)]
    [InlineData(" PT10S ", 10)]
    [InlineData("pt1m", 60)]
    public void Durations_are_read_as_hh_mm_ss_or_iso_8601(string text, double seconds)
    {
        Assert.True(SessionJson.TryParseDuration(text, out var value));
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
        Assert.Equal(TimeSpan.FromSeconds(seconds), Read<TimeSpan>($"\"{text}\""));
    }

    [Theory]
    [InlineData("5")]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("PT")]
    [InlineData("P5")]
    [InlineData("25:00")]
    [InlineData("P1M")]
    [InlineData("P1Y")]
    [InlineData("P2W")]
    [InlineData(null)]
    public void Other_durations_are_refused(string? text)
    {
        Assert.False(SessionJson.TryParseDuration(text, out _));
        Assert.Throws<JsonException>(() => Read<TimeSpan>(text is null ? "null" : $"\"{text}\""));
    }
}
