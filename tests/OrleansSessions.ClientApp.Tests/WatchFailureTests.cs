using System.Diagnostics;
using System.Text.Json;
using OrleansSessions.Testing;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>watch when its cluster goes away: it says so and exits, never goes silently deaf.</summary>
public sealed class WatchFailureTests
{
    [Fact]
    public async Task Watch_exits_5_with_one_line_when_its_only_silo_is_killed()
    {
        await using var silo = await SiloProcess.StartAsync();
        using var process = Start(["--gateway", silo.Gateway, "--connect-timeout", "2", "watch"]);
        try
        {
            using var deadline = new CancellationTokenSource(SessionClusters.WaitLimit);
            var ready = await process.StandardError.ReadLineAsync(deadline.Token);
            Assert.StartsWith("watching session events", ready, StringComparison.Ordinal);

            var clock = Stopwatch.StartNew();
            silo.Kill();
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"watch still running {clock.Elapsed.TotalSeconds:0} s after its silo was killed");
            }
            var stderr = await process.StandardError.ReadToEndAsync(deadline.Token);
            var stdout = await process.StandardOutput.ReadToEndAsync(deadline.Token);
            Assert.True(process.ExitCode == 5, $"exit {process.ExitCode}; stderr: {stderr}");
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: unavailable", line, StringComparison.Ordinal);
            Assert.Equal("", stdout);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task Watch_subscribes_again_when_its_silo_comes_back_within_the_connect_timeout()
    {
        var user = Users.New("rewatch");
        var silo = await SiloProcess.StartAsync();
        using var process = Start(["--gateway", silo.Gateway, "--connect-timeout", "120", "--json", "watch", "--user", user]);
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var ready = await process.StandardError.ReadLineAsync(deadline.Token);
            Assert.StartsWith("watching session events", ready, StringComparison.Ordinal);

            silo.Kill();
            await silo.DisposeAsync();
            silo = await silo.StartAgainAsync();

            var reconnected = await process.StandardError.ReadLineAsync(deadline.Token);
            Assert.StartsWith("reconnected to the cluster", reconnected, StringComparison.Ordinal);
            var created = (await RunAsync(["--gateway", silo.Gateway, "--json", "create", user])).Json();
            var line = await process.StandardOutput.ReadLineAsync(deadline.Token);
            using var watched = JsonDocument.Parse(line!);
            Assert.Equal("created", watched.RootElement.GetProperty("type").GetString());
            Assert.Equal(created.GetProperty("sessionId").GetString(), watched.RootElement.GetProperty("session").GetProperty("sessionId").GetString());
        }
        finally
        {
            await StopAsync(process);
            await silo.DisposeAsync();
        }
    }
}
