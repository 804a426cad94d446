using OrleansSessions.Sessions;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>
/// The sequence of docs/client-app.md, "A conversation that survives a silo restart": a silo process on a durable
/// backend, two chat turns through the client app, the silo restarted (stopped as Ctrl+C stops it, or killed with
/// kill -9), the conversation read back unchanged, and once the idle timeout has passed, gone (exit 3,
/// session_data_deleted). PostgreSQL is ORLEANSSESSIONS_TEST_POSTGRES (default: the local server of .ci/postgres.sh),
/// Redis ORLEANSSESSIONS_TEST_REDIS (default 127.0.0.1:6380, the instance of scripts/test.sh); these tests never skip.
/// </summary>
public sealed class DurableConversationTests
{
    // Long enough for the silo to stop and start again on a loaded machine; the test waits it out once.
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(40);

    private static string ConnectionString(string provider) => provider == "redis"
        ? Environment.GetEnvironmentVariable("ORLEANSSESSIONS_TEST_REDIS") is { Length: > 0 } redis ? redis : "127.0.0.1:6380"
        : Environment.GetEnvironmentVariable("ORLEANSSESSIONS_TEST_POSTGRES") is { Length: > 0 } postgres
            ? postgres
            : "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=orleanssessions_test;Maximum Pool Size=20";

    [Theory]
    [InlineData("postgres", false)]
    [InlineData("postgres", true)]
    [InlineData("redis", true)]
    public async Task A_chat_conversation_survives_a_silo_restart_and_is_gone_after_the_idle_timeout(string provider, bool killed)
    {
        var clusterId = $"durable-chat-{Guid.NewGuid():N}"[..25];
        var options = new SiloProcessOptions
        {
            Name = $"silo on {provider}",
            Arguments =
            [
                $"--Storage:Provider={provider}",
                $"--Storage:ConnectionString={ConnectionString(provider)}",
                $"--Cluster:ClusterId={clusterId}",
                $"--Sessions:IdleTimeout={SessionJson.FormatDuration(IdleTimeout)}",
                "--Logging:LogLevel:Default=Warning",
            ],
            StartTimeout = TimeSpan.FromSeconds(90),
        };
        var silo = await SiloProcess.StartAsync(options);
        SiloProcess? restarted = null;
        try
        {
            string[] target = ["--gateway", silo.Gateway, "--cluster-id", clusterId, "--connect-timeout", "30", "--response-timeout", "30"];
            var user = Users.New("durable");
            var first = (await RunAsync([.. target, "--json", "chat", user, "hola, quiero reservar una mesa"])).Json();
            var second = (await RunAsync([.. target, "--json", "chat", user, "para dos personas"])).Json();
            var sessionId = first.GetProperty("session").GetProperty("sessionId").GetString()!;
            Assert.Equal(sessionId, second.GetProperty("session").GetProperty("sessionId").GetString());
            var before = (await RunAsync([.. target, "--json", "messages", sessionId])).Json();
            Assert.Equal(
                ["hola, quiero reservar una mesa", "You said: hola, quiero reservar una mesa", "para dos personas", "You said: para dos personas"],
                before.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()));

            if (killed)
            {
                await silo.KillAsync();
            }
            else
            {
                await silo.StopAsync(TimeSpan.FromSeconds(30));
            }
            restarted = await silo.StartAgainAsync();

            var status = (await RunAsync([.. target, "--json", "status", sessionId])).Json();
            Assert.True(status.GetProperty("status").GetString() == "active",
                $"the session should have outlived the restart (Sessions:IdleTimeout {IdleTimeout}); it is {status}");
            var after = (await RunAsync([.. target, "--json", "messages", sessionId])).Json();
            // The same messages, ids, times and version: read from storage by a new activation.
            Assert.Equal(before.GetRawText(), after.GetRawText());

            var deadline = second.GetProperty("session").GetProperty("expiresAt").GetDateTimeOffset();
            await Wait.UntilAsync(() => DateTimeOffset.UtcNow > deadline, IdleTimeout + SessionClusters.WaitLimit, $"the idle deadline {deadline:O}");
            (await RunAsync([.. target, "--json", "messages", sessionId])).AssertFailed(3, "data deleted");
            (await RunAsync([.. target, "--json", "attrs", sessionId])).AssertFailed(3, "data deleted");
            var ended = (await RunAsync([.. target, "--json", "status", sessionId])).Json();
            Assert.Equal(("expired", "idle_timeout"), (ended.GetProperty("status").GetString(), ended.GetProperty("endReason").GetString()));
            Assert.Equal(deadline, ended.GetProperty("endedAt").GetDateTimeOffset());
        }
        catch (Exception ex)
        {
            // With the silo's last words: a failure here is often the backend's.
            throw new InvalidOperationException($"{ex.Message}\n{(restarted ?? silo).Tail()}", ex);
        }
        finally
        {
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
            await silo.DisposeAsync();
        }
    }
}
