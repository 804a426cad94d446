using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OrleansSessions.Testing;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>load when its cluster goes away: it stops and says so instead of counting errors until its duration ends.</summary>
public sealed class LoadFailureTests
{
    [Fact]
    public async Task Load_stops_with_exit_5_and_one_line_when_nothing_answers_any_more()
    {
        await using var silo = await SiloProcess.StartAsync();
        using var process = Start(["--gateway", silo.Gateway, "--connect-timeout", "2", "--json", "load", "--users", "4", "--duration", "300", "--concurrency", "4"]);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // Killed once the load's sessions exist, so that it is touching them.
            await Wait.UntilAsync(async () => await LiveSessionsAsync(silo) >= 4, what: "the load's sessions created");
            var clock = Stopwatch.StartNew();
            silo.Kill();
            using var deadline = new CancellationTokenSource(SessionClusters.WaitLimit);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"load still running {clock.Elapsed.TotalSeconds:0} s after its silo was killed");
            }
            Assert.True(process.ExitCode == 5, $"exit {process.ExitCode}; stderr: {await stderr}; stdout: {await stdout}");
            var line = Assert.Single((await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: unavailable", line, StringComparison.Ordinal);
            Assert.Equal("", (await stdout).Trim());
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task<long> LiveSessionsAsync(SiloProcess silo)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var json = await http.GetStringAsync(new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{silo.HttpPort}/api/cluster")));
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("sessions").GetProperty("live").GetInt64();
    }
}
