using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using OrleansSessions.Sessions;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>Failures: a message on stderr, nothing on stdout, and an exit code per kind.</summary>
public sealed class ErrorTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    private string[] Target => ClientProcess.Target(fixture.Cluster);

    [Theory]
    [InlineData("status", "not-a-session")]
    [InlineData("touch", "sess_123")]
    [InlineData("close", "SESS_00000000-0000-4000-8000-000000000000")]
    public async Task Malformed_session_id_is_exit_2(string command, string sessionId)
        => (await RunAsync([.. Target, "--json", command, sessionId])).AssertFailed(2, "bad input");

    [Fact]
    public async Task Malformed_user_id_is_exit_2()
        => (await RunAsync([.. Target, "create", new string('u', 129)])).AssertFailed(2, "bad input");

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("history", "alice", "--limit", "-1")]
    [InlineData("chat", "alice", "hi", "--lang", "fr")]
    [InlineData("create")]
    [InlineData("--response-timeout", "0", "create", "alice")]
    [InlineData("--response-timeout", "3601", "create", "alice")]
    public async Task Bad_command_line_is_exit_2(params string[] arguments)
        => (await RunAsync([.. Target, .. arguments])).AssertFailed(2, "bad input");

    [Theory]
    [InlineData("nowhere")]
    [InlineData("host:99999")]
    [InlineData("::1:30000")]
    public async Task Malformed_gateway_is_exit_2(string gateway)
        => (await RunAsync(["--gateway", "127.0.0.1:30000", "--gateway", gateway, "status", $"sess_{Guid.NewGuid():D}"])).AssertFailed(2, $"Invalid gateway endpoint '{gateway}'");

    [Fact]
    public async Task Unknown_session_is_exit_3()
        => (await RunAsync([.. Target, "--json", "status", $"sess_{Guid.NewGuid():D}"])).AssertFailed(3, "not found");

    [Fact]
    public async Task Touching_a_closed_session_is_exit_4()
    {
        var session = await fixture.Cluster.Client.GetGrain<IUserSessionsGrain>(Users.New("closed")).CreateSessionAsync();
        await fixture.Cluster.Client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
        (await RunAsync([.. Target, "--json", "touch", session.SessionId])).AssertFailed(4, "closed");
    }

    [Fact]
    public async Task Unreachable_gateway_is_exit_5()
        => (await RunAsync(["--gateway", $"127.0.0.1:{Ports.Free()}", "--connect-timeout", "1", "--json", "create", "alice"])).AssertFailed(5, "unavailable");

    [Fact]
    public async Task A_listener_that_accepts_and_never_answers_fails_within_the_connect_timeout_with_exit_5()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var accepting = AcceptAndStaySilentAsync(listener, stop.Token);
        try
        {
            await AssertUnavailableWithinConnectTimeoutAsync($"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
        }
        finally
        {
            await stop.CancelAsync();
            listener.Stop();
            await accepting;
        }
    }

    [Fact]
    public async Task A_silo_to_silo_port_fails_within_the_connect_timeout_with_exit_5()
        => await AssertUnavailableWithinConnectTimeoutAsync(fixture.Cluster.Silos[0].SiloAddress.Endpoint.ToString());

    /// <summary>
    /// Runs create against <paramref name="gateway"/> with a 2 s connect timeout and asserts exit 5 with one line, within
    /// the timeout plus what the same process needs to start and exit without connecting (measured first) and 1.5 s of
    /// slack for a loaded machine (before the fix it took over 2 s past the timeout, or hung).
    /// </summary>
    private async Task AssertUnavailableWithinConnectTimeoutAsync(string gateway)
    {
        const double ConnectTimeout = 2;
        var clock = Stopwatch.StartNew();
        (await RunAsync(["--gateway", gateway, "create", "a/b"])).AssertFailed(2, "bad input");
        var startAndExit = clock.Elapsed;

        clock.Restart();
        var result = await RunAsync(["--gateway", gateway, "--cluster-id", fixture.Cluster.Options.ClusterId, "--connect-timeout", "2", "create", Users.New("port")], TimeSpan.FromSeconds(30));
        var elapsed = clock.Elapsed;

        result.AssertFailed(5, "unavailable");
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var bound = TimeSpan.FromSeconds(ConnectTimeout + 1.5) + startAndExit;
        Assert.True(elapsed < bound, $"took {elapsed.TotalSeconds:0.00} s, bound {bound.TotalSeconds:0.00} s (start and exit {startAndExit.TotalSeconds:0.00} s); stderr: {result.Stderr}");
    }

    private static async Task AcceptAndStaySilentAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        var accepted = new List<TcpClient>();
        try
        {
            while (true)
            {
                accepted.Add(await listener.AcceptTcpClientAsync(cancellationToken));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped by the test.
        }
        finally
        {
            foreach (var client in accepted)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task Wrong_cluster_id_is_exit_5()
        => (await RunAsync(["--gateway", Gateway(fixture.Cluster), "--cluster-id", "other", "--connect-timeout", "1", "create", "alice"])).AssertFailed(5, "unavailable");

    [Theory]
    [InlineData("history", "alice", "--limit", "abc")]
    [InlineData("load", "--users", "many")]
    [InlineData("load", "--duration", "soon")]
    [InlineData("--connect-timeout", "forever", "create", "alice")]
    [InlineData("--response-timeout", "soon", "create", "alice")]
    public async Task Non_numeric_option_value_is_exit_2_with_one_line(params string[] arguments)
    {
        var result = await RunAsync([.. Target, .. arguments]);
        result.AssertFailed(2, "bad input");
        Assert.Contains("'", result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("create", "team/alice")]
    [InlineData("sessions", "..")]
    [InlineData("history", "e\u0301")]
    [InlineData("chat", "a\u200Bb", "hi")]
    public async Task Bad_input_is_exit_2_with_one_line(params string[] arguments)
    {
        var result = await RunAsync([.. Target, .. arguments]);
        result.AssertFailed(2, "bad input");
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Gateway_is_repeatable_and_a_dead_one_is_skipped()
    {
        var user = Users.New("gw");
        var result = await RunAsync(["--gateway", $"127.0.0.1:{Ports.Free()}", "--gateway", Gateway(fixture.Cluster), "--cluster-id", fixture.Cluster.Options.ClusterId, "--json", "create", user]);
        Assert.Equal(user, result.Json().GetProperty("userId").GetString());
    }
}
