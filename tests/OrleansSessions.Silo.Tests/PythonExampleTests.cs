using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace OrleansSessions.Silo.Tests;

/// <summary>examples/python/chat_router.py against a silo process.</summary>
[Collection(DefaultSiloCollection.Name)]
public sealed class PythonExampleTests(DefaultSiloFixture fixture)
{
    private static readonly string Script = Path.Combine(Repo.Root, "examples", "python", "chat_router.py");

    private static string Url(SiloProcess silo) => $"http://127.0.0.1:{silo.HttpPort}";

    [Fact]
    public async Task Python_chat_router_selftest_passes()
    {
        Assert.True(File.Exists(Script), Script);
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync("python3",
            [Script, "--base-url", Url(fixture.Silo), "selftest"], TimeSpan.FromSeconds(90));
        Assert.True(exitCode == 0, $"exit {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains("PASS: 0 failed check(s)", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL ", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Python_chat_router_answers_in_spanish()
    {
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync("python3",
            [Script, "--base-url", Url(fixture.Silo), "chat", ApiCluster.NewUser("py"), "hola", "--lang", "es"], TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"exit {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        using var reply = JsonDocument.Parse(stdout);
        Assert.Equal("Dijiste: hola", reply.RootElement.GetProperty("reply").GetString());
        Assert.Equal("active", reply.RootElement.GetProperty("session").GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("watch", "--user", "a/b")]
    [InlineData("chat", "a/b", "hi")]
    public async Task Python_router_reports_bad_input_as_exit_2_like_the_client_app(params string[] command)
    {
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync("python3", [Script, "--base-url", Url(fixture.Silo), .. command], TimeSpan.FromSeconds(60));
        AssertFailed(exitCode, stdout, stderr, 2, "bad input: HTTP 400 invalid_user_id");
    }

    [Fact]
    public async Task Python_router_reports_a_refused_token_as_unauthorized_not_unreachable()
    {
        await using var silo = await SiloProcess.StartAsync("--Security:ApiToken=py-secret-0123456789");
        foreach (var command in new[] { new[] { "chat", "alice", "hi" }, ["watch"] })
        {
            var (exitCode, stdout, stderr) = await ChildProcess.RunAsync("python3", [Script, "--base-url", Url(silo), "--token", "wrong", .. command], TimeSpan.FromSeconds(60));
            AssertFailed(exitCode, stdout, stderr, 5, "unauthorized (check --token): HTTP 401 unauthorized");
        }
    }

    [Fact]
    public async Task Python_watch_exits_5_with_one_line_when_its_silo_is_killed()
    {
        await using var silo = await SiloProcess.StartAsync();
        await using var watch = PythonWatch.Start(Url(silo), "--reconnect-timeout", "2");
        await watch.WaitForCreatedAsync(silo, ApiCluster.NewUser("pykill"));

        var clock = Stopwatch.StartNew();
        silo.Kill();
        var exitCode = await watch.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(exitCode == 5, $"exit {exitCode} {clock.Elapsed.TotalSeconds:0.0} s after the kill; stderr: {watch.Stderr}");
        var line = Assert.Single(watch.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: cannot reach", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Python_watch_reconnects_through_the_next_url_when_its_silo_is_killed()
    {
        await using var first = await SiloProcess.StartAsync();
        await using var second = await SiloProcess.StartAsync();
        await using var watch = PythonWatch.Start($"{Url(first)},{Url(second)}", "--reconnect-timeout", "30");
        await watch.WaitForCreatedAsync(first, ApiCluster.NewUser("pyfirst"));

        first.Kill();
        // Sessions created on the second silo until the watch, reconnected there, prints one of them.
        await watch.WaitForCreatedAsync(second, ApiCluster.NewUser("pysecond"));
        Assert.False(watch.HasExited, watch.Stderr);
    }

    private static void AssertFailed(int exitCode, string stdout, string stderr, int expected, string message)
    {
        Assert.True(exitCode == expected, $"expected exit {expected}, got {exitCode}; stderr: {stderr}; stdout: {stdout}");
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(message, line, StringComparison.Ordinal);
        Assert.DoesNotContain("cannot reach", line, StringComparison.Ordinal);
        Assert.Equal("", stdout.Trim());
    }

    /// <summary>chat_router.py watch as a running process, its output collected as it comes.</summary>
    private sealed class PythonWatch : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();

        private PythonWatch(Process process) => _process = process;

        public bool HasExited => _process.HasExited;

        public string Stdout
        {
            get
            {
                lock (_stdout)
                {
                    return _stdout.ToString();
                }
            }
        }

        public string Stderr
        {
            get
            {
                lock (_stderr)
                {
                    return _stderr.ToString();
                }
            }
        }

        public static PythonWatch Start(string baseUrls, params string[] options)
        {
            var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { "-u", Script, "--base-url", baseUrls, "watch" }.Concat(options))
            {
                info.ArgumentList.Add(argument);
            }
            var watch = new PythonWatch(Process.Start(info) ?? throw new InvalidOperationException("python3 did not start"));
            watch._process.OutputDataReceived += (_, e) => Append(watch._stdout, e.Data);
            watch._process.ErrorDataReceived += (_, e) => Append(watch._stderr, e.Data);
            watch._process.BeginOutputReadLine();
            watch._process.BeginErrorReadLine();
            return watch;
        }

        /// <summary>Creates sessions for <paramref name="user"/> on <paramref name="silo"/> until the watch prints one of them (it may still be connecting).</summary>
        public async Task WaitForCreatedAsync(SiloProcess silo, string user)
        {
            using var http = silo.Http();
            await Wait.UntilAsync(async () =>
            {
                Assert.False(HasExited, $"watch exited: {Stderr}");
                var created = await ApiCluster.CreateAsync(http, user);
                var id = created.GetProperty("sessionId").GetString()!;
                var printed = await WaitForOutputAsync(id, TimeSpan.FromSeconds(2));
                return printed;
            }, TimeSpan.FromSeconds(60), $"watch printing a created event of {user}");
        }

        private async Task<bool> WaitForOutputAsync(string text, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < timeout)
            {
                if (Stdout.Contains(text, StringComparison.Ordinal))
                {
                    return true;
                }
                await Task.Delay(50);
            }
            return false;
        }

        public async Task<int> WaitForExitAsync(TimeSpan timeout)
        {
            using var deadline = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"watch still running after {timeout.TotalSeconds:0} s; stderr: {Stderr}");
            }
            _process.WaitForExit(); // the output read to its end
            return _process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }

        private static void Append(StringBuilder output, string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }
    }
}
