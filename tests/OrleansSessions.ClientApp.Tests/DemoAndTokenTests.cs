using OrleansSessions.Hosting;
using OrleansSessions.TestingHost;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>The demo's timeline on a silo with a 6 s idle timeout (real time), and the token options.</summary>
public sealed class DemoAndTokenTests : IAsyncLifetime
{
    private const string Token = "demo-token";
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await new TestClusterBuilder(1)
        .ConfigureSilo(s => s.AddSessionGrains())
        .AddConfiguration("Sessions:IdleTimeout", "00:00:06")
        .AddConfiguration("Sessions:WarningBefore", "00:00:02")
        .AddConfiguration("Security:ApiToken", Token)
        .BuildAndStartAsync();

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
        Assert.Contains("event ", output, StringComparison.Ordinal);
        Assert.Contains("expired ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_in_spanish_answers_the_seed_message()
    {
        var result = await RunAsync([.. Target(_cluster), "--token", Token, "demo", "--lang", "es"], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, $"stderr: {result.Stderr}\nstdout: {result.Stdout}");
        Assert.Contains("reply: Sesión expirada. Por favor inicia sesión nuevamente.", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_token_is_refused_with_exit_5()
        => (await RunAsync([.. Target(_cluster), "--connect-timeout", "2", "create", "alice"])).AssertFailed(5, "unavailable");

    [Fact]
    public async Task Token_from_the_environment_variable_is_used()
    {
        var result = await RunAsync([.. Target(_cluster), "--json", "create", Users.New("env")], environment: new Dictionary<string, string?> { ["OrleansSessions__Security__ApiToken"] = Token });
        Assert.Equal("active", result.Json().GetProperty("status").GetString());
    }
}
