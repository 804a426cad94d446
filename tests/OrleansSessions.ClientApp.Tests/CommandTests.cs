using System.Text.Json;
using OrleansSessions.Sessions;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>Each command's --json output, run as a process against an in-process silo.</summary>
public sealed class CommandTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    private string[] Target => ClientProcess.Target(fixture.Cluster);

    private static void AssertSessionInfo(JsonElement session, string userId, string status)
    {
        Assert.Equal(
            ["sessionId", "userId", "createdAt", "lastActivity", "expiresAt", "status", "endedAt", "endReason", "labels", "idleTimeout", "absoluteTimeout", "dataVersion", "messageCount", "previousSessionId"],
            session.EnumerateObject().Select(p => p.Name));
        Assert.True(SessionKeys.IsValidSessionId(session.GetProperty("sessionId").GetString()));
        Assert.Equal(userId, session.GetProperty("userId").GetString());
        Assert.Equal(status, session.GetProperty("status").GetString());
        Assert.EndsWith("Z", session.GetProperty("createdAt").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("Z", session.GetProperty("expiresAt").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_status_touch_close_print_session_info_json()
    {
        var user = Users.New("cmd");
        var created = (await RunAsync([.. Target, "--json", "create", user])).Json();
        AssertSessionInfo(created, user, "active");
        var id = created.GetProperty("sessionId").GetString()!;

        var status = (await RunAsync([.. Target, "--response-timeout", "2.5", "status", id, "--json"])).Json();
        AssertSessionInfo(status, user, "active");
        Assert.Equal(id, status.GetProperty("sessionId").GetString());

        var touched = (await RunAsync([.. Target, "touch", id, "--json"])).Json();
        Assert.True(touched.GetProperty("lastActivity").GetDateTimeOffset() >= created.GetProperty("lastActivity").GetDateTimeOffset());

        var closed = (await RunAsync([.. Target, "close", id, "--json"])).Json();
        AssertSessionInfo(closed, user, "closed");
        Assert.Equal("logout", closed.GetProperty("endReason").GetString());
    }

    [Fact]
    public async Task Sessions_and_history_print_arrays()
    {
        var user = Users.New("lists");
        var sessions = fixture.Cluster.Client.GetGrain<IUserSessionsGrain>(user);
        var first = await sessions.CreateSessionAsync();
        var second = await sessions.CreateSessionAsync();
        await fixture.Cluster.Client.GetGrain<ISessionGrain>(first.SessionId).CloseAsync();
        var third = await sessions.CreateSessionAsync();
        await fixture.Cluster.Client.GetGrain<ISessionGrain>(third.SessionId).CloseAsync();

        var live = (await RunAsync([.. Target, "--json", "sessions", user])).Json();
        Assert.Equal(JsonValueKind.Array, live.ValueKind);
        Assert.Equal(second.SessionId, Assert.Single(live.EnumerateArray()).GetProperty("sessionId").GetString());

        var history = (await RunAsync([.. Target, "--json", "history", user])).Json();
        Assert.Equal(new[] { third.SessionId, first.SessionId }, history.EnumerateArray().Select(s => s.GetProperty("sessionId").GetString()!).ToArray());
        var limited = (await RunAsync([.. Target, "--json", "history", user, "--limit", "1"])).Json();
        Assert.Equal(third.SessionId, Assert.Single(limited.EnumerateArray()).GetProperty("sessionId").GetString());

        var empty = (await RunAsync([.. Target, "--json", "sessions", Users.New("nobody")])).Json();
        Assert.Equal(0, empty.GetArrayLength());
    }

    [Fact]
    public async Task Chat_prints_reply_and_session()
    {
        var user = Users.New("chat");
        var first = (await RunAsync([.. Target, "--json", "chat", user, "hello there"])).Json();
        Assert.Equal("You said: hello there", first.GetProperty("reply").GetString());
        AssertSessionInfo(first.GetProperty("session"), user, "active");
        Assert.Equal(["reply", "session"], first.EnumerateObject().Select(p => p.Name));
        // The turn is stored in the session: the message and its reply, in one write.
        Assert.Equal(2, first.GetProperty("session").GetProperty("messageCount").GetInt32());
        Assert.Equal(1, first.GetProperty("session").GetProperty("dataVersion").GetInt64());

        var spanish = (await RunAsync([.. Target, "--json", "chat", user, "hola", "--lang", "es"])).Json();
        Assert.Equal("Dijiste: hola", spanish.GetProperty("reply").GetString());
        Assert.Equal(first.GetProperty("session").GetProperty("sessionId").GetString(), spanish.GetProperty("session").GetProperty("sessionId").GetString());
        var conversation = await fixture.Cluster.Client.GetGrain<ISessionGrain>(first.GetProperty("session").GetProperty("sessionId").GetString()!).GetMessagesAsync();
        Assert.Equal(["hello there", "You said: hello there", "hola", "Dijiste: hola"], conversation.Messages.Select(m => m.Content));

        await fixture.Cluster.Client.GetGrain<ISessionGrain>(first.GetProperty("session").GetProperty("sessionId").GetString()!).CloseAsync();
        var after = (await RunAsync([.. Target, "--json", "chat", user, "still there?", "--lang", "es"])).Json();
        Assert.Equal("Sesión expirada. Por favor inicia sesión nuevamente.", after.GetProperty("reply").GetString());
        Assert.NotEqual(first.GetProperty("session").GetProperty("sessionId").GetString(), after.GetProperty("session").GetProperty("sessionId").GetString());
    }

    [Fact]
    public async Task Human_output_is_one_line_per_session()
    {
        var user = Users.New("human");
        var result = await RunAsync([.. Target, "create", user]);
        Assert.Equal(0, result.ExitCode);
        var line = Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("sess_", line, StringComparison.Ordinal);
        Assert.Contains($"user={user}", line, StringComparison.Ordinal);
        Assert.Contains("status=active", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_prints_events_as_json_lines()
    {
        var user = Users.New("watch");
        using var process = Start([.. Target, "--json", "watch", "--user", user]);
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var ready = await process.StandardError.ReadLineAsync(deadline.Token);
            Assert.StartsWith("watching session events", ready, StringComparison.Ordinal);

            await fixture.Cluster.Client.GetGrain<IUserSessionsGrain>(Users.New("someone-else")).CreateSessionAsync();
            var created = await fixture.Cluster.Client.GetGrain<IUserSessionsGrain>(user).CreateSessionAsync();
            await fixture.Cluster.Client.GetGrain<ISessionGrain>(created.SessionId).CloseAsync();

            var first = JsonDocument.Parse((await process.StandardOutput.ReadLineAsync(deadline.Token))!).RootElement;
            Assert.Equal("created", first.GetProperty("type").GetString());
            Assert.Equal(created.SessionId, first.GetProperty("session").GetProperty("sessionId").GetString());
            Assert.EndsWith("Z", first.GetProperty("at").GetString(), StringComparison.Ordinal);
            var second = JsonDocument.Parse((await process.StandardOutput.ReadLineAsync(deadline.Token))!).RootElement;
            Assert.Equal("closed", second.GetProperty("type").GetString());
            Assert.Equal("logout", second.GetProperty("session").GetProperty("endReason").GetString());

            await StopAsync(process);
            Assert.True(process.ExitCode is 0 or 130, $"exit {process.ExitCode} after Ctrl+C");
        }
        finally
        {
            // Ctrl+C: watch unsubscribes and leaves the cluster (a killed client's subscription would linger in the
            // stream pub-sub until the gateway drops the client).
            await StopAsync(process);
        }
    }

    [Fact]
    public async Task Demo_with_a_long_idle_timeout_shows_explicit_steps_and_how_to_run_the_timeline()
    {
        var result = await RunAsync([.. Target, "demo"]);
        Assert.True(result.ExitCode == 0, result.Stderr + result.Stdout);
        Assert.Contains("note: Sessions:IdleTimeout is 00:30:00", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("dotnet run --project silo -- --Sessions:IdleTimeout=00:00:06", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("close (logout)", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Session expired. Please log in again.", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("endReason=logout_all", result.Stdout, StringComparison.Ordinal);
        // The conversation held by the session: appended by the chat turns, read back, gone once the session ended.
        Assert.Contains("lang = \"es\"", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("messages: the session holds the conversation, 4 messages", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("user: Para dos personas", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("assistant: You said: Para dos personas", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("messages of the ended session: gone with it (session_data_deleted)", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_with_json_prints_one_step_per_line_with_the_conversation_it_read()
    {
        var result = await RunAsync([.. Target, "--json", "demo", "--user", Users.New("demojson")]);
        Assert.True(result.ExitCode == 0, result.Stderr + result.Stdout);
        var steps = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        var read = Assert.Single(steps, s => s.GetProperty("step").GetString()!.StartsWith("messages: the session holds", StringComparison.Ordinal));
        var data = read.GetProperty("data");
        Assert.Equal(4, data.GetProperty("messages").GetArrayLength());
        Assert.Equal("Hola, quiero reservar una mesa", data.GetProperty("messages")[0].GetProperty("content").GetString());
        var attributes = Assert.Single(steps, s => s.GetProperty("step").GetString()!.StartsWith("attrs set", StringComparison.Ordinal));
        Assert.Equal("es", attributes.GetProperty("data").GetProperty("attributes").GetProperty("lang").GetString());
        Assert.Contains(steps, s => s.GetProperty("step").GetString()!.Contains("session_data_deleted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Load_reports_calls_throughput_and_percentiles()
    {
        var report = (await RunAsync([.. Target, "--json", "load", "--users", "5", "--sessions", "2", "--touches", "3", "--concurrency", "4"])).Json();
        Assert.Equal(10, report.GetProperty("sessions").GetInt32());
        Assert.False(report.GetProperty("direct").GetBoolean());
        var create = report.GetProperty("create");
        var touch = report.GetProperty("touch");
        Assert.Equal(10, create.GetProperty("calls").GetInt64());
        Assert.Equal(30, touch.GetProperty("calls").GetInt64());
        Assert.Equal(0, touch.GetProperty("errors").GetInt64());
        Assert.True(touch.GetProperty("perSecond").GetDouble() > 0);
        Assert.True(touch.GetProperty("p99Ms").GetDouble() >= touch.GetProperty("p50Ms").GetDouble());
    }

    [Fact]
    public async Task Load_with_a_duration_touches_until_it_ends()
    {
        // --direct: one session grain call per touch instead of the client's SessionToucher.
        var report = (await RunAsync([.. Target, "--json", "load", "--users", "3", "--duration", "0.5", "--concurrency", "2", "--direct"])).Json();
        Assert.True(report.GetProperty("direct").GetBoolean());
        Assert.Equal(0, report.GetProperty("touch").GetProperty("errors").GetInt64());
        Assert.True(report.GetProperty("touch").GetProperty("calls").GetInt64() > 0);
        Assert.True(report.GetProperty("touch").GetProperty("seconds").GetDouble() >= 0.5);
    }
}
