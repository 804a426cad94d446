namespace OrleansSessions.Silo.Tests;

/// <summary>examples/python/chat_router.py against a silo process.</summary>
[Collection(DefaultSiloCollection.Name)]
public sealed class PythonExampleTests(DefaultSiloFixture fixture)
{
    [Fact]
    public async Task Python_chat_router_selftest_passes()
    {
        var script = Path.Combine(Repo.Root, "examples", "python", "chat_router.py");
        Assert.True(File.Exists(script), script);
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync("python3",
            [script, "--base-url", $"http://127.0.0.1:{fixture.Silo.HttpPort}", "selftest"], TimeSpan.FromSeconds(90));
        Assert.True(exitCode == 0, $"exit {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains("PASS: 0 failed check(s)", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL ", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Python_chat_router_answers_in_spanish()
    {
        var script = Path.Combine(Repo.Root, "examples", "python", "chat_router.py");
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync("python3",
            [script, "--base-url", $"http://127.0.0.1:{fixture.Silo.HttpPort}", "chat", ApiCluster.NewUser("py"), "hola", "--lang", "es"], TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"exit {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        using var reply = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal("Dijiste: hola", reply.RootElement.GetProperty("reply").GetString());
        Assert.Equal("active", reply.RootElement.GetProperty("session").GetProperty("status").GetString());
    }
}
