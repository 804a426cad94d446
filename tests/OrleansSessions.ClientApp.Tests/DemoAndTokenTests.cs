using Orleans.TestingHost;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>The demo's timeline on a silo with a 6 s idle timeout (real time, set through configuration), and the token options.</summary>
public sealed class DemoAndTokenTests : IAsyncLifetime
{
    private const string Token = "demo-token-0123456789";
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = SessionClusters.Builder();
        builder.Properties["Sessions:IdleTimeout"] = "00:00:06";
        builder.Properties["Sessions:WarningBefore"] = "00:00:02";
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Demo_plays_the_seed_timeline_scaled_to_the_idle_timeout()
    {
        var result = await RunAsync([.. Target(_cluster), "--token", Token, "demo", "--user", Users.New("demo")], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, $"stderr: {result.Stderr}\nstdout: {result.Stdout}");
        var output = result.Stdout;
        Assert.Contains("Sessions:IdleTimeout is 00:00:06", output, StringComparison.Ordinal);
        foreach (var step in new[] { "14:00  message #1", "14:15  message #2", "14:40  is_active() = true", "14:50  message #3" })
        {
            Assert.Contains(step, output, StringComparison.Ordinal);
        }
        Assert.Contains("reply: Session expired. Please log in again.", output, StringComparison.Ordinal);
        Assert.Contains("with reason idle_timeout", output, StringComparison.Ordinal);
        // The conversation: held by the session while it lives, gone with it at its end.
        Assert.Contains("14:15  the session holds the conversation: 4 messages", output, StringComparison.Ordinal);
        Assert.Contains("user: Hola, quiero reservar una mesa", output, StringComparison.Ordinal);
        Assert.Contains("14:50  messages of the ended session: gone with it (session_data_deleted)", output, StringComparison.Ordinal);
        Assert.Contains("event ", output, StringComparison.Ordinal);
        Assert.Contains("expired ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_in_spanish_answers_the_seed_message()
    {
        var result = await RunAsync([.. Target(_cluster), "demo", "--lang", "es"], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, $"stderr: {result.Stderr}\nstdout: {result.Stdout}");
        Assert.Contains("reply: Sesión expirada. Por favor inicia sesión nuevamente.", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_option_is_accepted_and_sent_to_nobody()
    {
        // Orleans gateways take no token: the option (a contract) is accepted and the call goes through without it.
        var result = await RunAsync([.. Target(_cluster), "--token", "anything", "--json", "create", Users.New("tok")]);
        Assert.Equal("active", result.Json().GetProperty("status").GetString());
        var help = await RunAsync(["--help"]);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("sent to nobody", help.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_from_the_environment_variable_is_accepted()
    {
        var result = await RunAsync([.. Target(_cluster), "--json", "create", Users.New("env")], environment: new Dictionary<string, string?> { ["OrleansSessions__Security__ApiToken"] = Token });
        Assert.Equal("active", result.Json().GetProperty("status").GetString());
    }
}
