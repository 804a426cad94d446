using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansSessions.Client.Security;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// Connections to the Orleans ports that have not sent Orleans' connection preamble within Silo:HandshakeTimeout of
/// being accepted are closed, with TLS or without, so that silent sockets cannot hold Gateway:MaxConnections or
/// Silo:MaxPeerConnections and lock clients and peers out.
/// </summary>
public sealed class HandshakeTimeoutTests
{
    private const int Cap = 4;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(2);

    // How long past the bound a closing may arrive on a loaded 2-core machine.
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(8);

    private static readonly string BoundSetting = "--Silo:HandshakeTimeout=" + Bound.ToString("c", CultureInfo.InvariantCulture);

    [Fact]
    public async Task Silent_connections_filling_the_gateway_cap_are_closed_within_the_handshake_timeout_and_a_client_then_connects()
    {
        await using var silo = await SiloProcess.StartAsync($"--Gateway:MaxConnections={Cap}", BoundSetting);
        var silent = await OpenAsync(silo.GatewayPort, Cap);
        try
        {
            await AssertClosedWithinBoundAsync(silent, silo);
            // The silent sockets are still held by this side: only the silo's closing freed the cap.
            using var client = await StartClientAsync(silo.GatewayPort, certificates: null);
            var session = await client.Services.GetRequiredService<IClusterClient>().GetGrain<IUserSessionsGrain>(ApiCluster.NewUser("after-silent")).CreateSessionAsync();
            Assert.Equal(SessionStatus.Active, session.Status);
            await client.StopAsync();
        }
        finally
        {
            Dispose(silent);
        }
    }

    [Fact]
    public async Task Silent_connections_filling_the_silo_port_cap_are_closed_within_the_handshake_timeout_and_the_port_then_takes_as_many()
    {
        await using var silo = await SiloProcess.StartAsync($"--Silo:MaxPeerConnections={Cap}", BoundSetting);
        var silent = await OpenAsync(silo.SiloPort, Cap);
        var next = new List<(Socket Socket, Stopwatch Clock)>();
        try
        {
            await AssertClosedWithinBoundAsync(silent, silo);
            // The silent sockets are still held by this side. A connection over the cap is closed at once; one Orleans
            // takes waits for its peer's preamble: the port has room for the cap again.
            next = await OpenAsync(silo.SiloPort, Cap);
            // Watched together for half the bound: each is held, neither refused nor yet timed out.
            var verdicts = await Task.WhenAll(next.Select(async s =>
            {
                using var wait = new CancellationTokenSource(Bound / 2);
                try
                {
                    var read = await s.Socket.ReceiveAsync(new byte[16], SocketFlags.None, wait.Token);
                    return read == 0 ? "closed" : $"answered with {read} bytes";
                }
                catch (OperationCanceledException)
                {
                    return (string?)null;
                }
                catch (SocketException ex)
                {
                    return ex.SocketErrorCode.ToString();
                }
            }));
            Assert.True(verdicts.All(v => v is null), $"the silo port did not hold new connections ({string.Join(", ", verdicts)}) after the silent ones were closed:\n{silo.Output}");
        }
        finally
        {
            Dispose(silent);
            Dispose(next);
        }
    }

    [Theory]
    [InlineData("gateway", "client")]
    [InlineData("silo", "silo")]
    public async Task A_connection_that_completes_TLS_but_sends_no_preamble_is_closed_within_the_handshake_timeout(string port, string certificate)
    {
        var certificates = DevCertificates.Instance;
        await using var silo = await SiloProcess.StartAsync([.. certificates.SiloSettings.Select(kv => $"--{kv.Key}={kv.Value}"), BoundSetting]);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port == "silo" ? silo.SiloPort : silo.GatewayPort);
        var clock = Stopwatch.StartNew();
        var validator = new CertificateAuthorityValidator(CertificateFiles.LoadAuthorities(certificates.Ca), [CertificateAuthorityValidator.ServerAuthentication]);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false,
            (_, presented, chain, errors) => presented is System.Security.Cryptography.X509Certificates.X509Certificate2 server && validator.Validate(server, chain, errors));
        using var deadline = new CancellationTokenSource(Bound + Slack);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = [CertificateFiles.LoadWithKey(certificates.File($"{certificate}.pem"), certificates.File($"{certificate}.key"))],
        }, deadline.Token);

        // Closed means a read ends (0 bytes or a reset).
        try
        {
            while (await tls.ReadAsync(new byte[512], deadline.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the {port} port kept a TLS connection without a preamble open for {clock.Elapsed}:\n{silo.Output}");
        }
        Assert.True(clock.Elapsed >= Bound - TimeSpan.FromMilliseconds(100), $"closed after {clock.Elapsed}, before the bound");
        await WaitForLogAsync(silo, port);

        // A client that speaks Orleans is served as before.
        using var client = await StartClientAsync(silo.GatewayPort, certificates);
        var session = await client.Services.GetRequiredService<IClusterClient>().GetGrain<IUserSessionsGrain>(ApiCluster.NewUser("tls-after")).CreateSessionAsync();
        Assert.Equal(SessionStatus.Active, session.Status);
        await client.StopAsync();
    }

    /// <summary>Every socket reads its end (0 bytes or a reset) no sooner than the bound after it connected and no later than the slack after that.</summary>
    private static async Task AssertClosedWithinBoundAsync(List<(Socket Socket, Stopwatch Clock)> sockets, SiloProcess silo)
    {
        var closings = sockets.Select(async s =>
        {
            using var deadline = new CancellationTokenSource(Bound + Slack);
            try
            {
                while (await s.Socket.ReceiveAsync(new byte[512], SocketFlags.None, deadline.Token) > 0)
                {
                }
            }
            catch (SocketException)
            {
            }
            catch (OperationCanceledException)
            {
                return $"still open after {s.Clock.Elapsed}";
            }
            return s.Clock.Elapsed >= Bound - TimeSpan.FromMilliseconds(100) ? null : $"closed after {s.Clock.Elapsed}, before the bound";
        });
        var failures = (await Task.WhenAll(closings)).Where(f => f is not null).ToList();
        Assert.True(failures.Count == 0, string.Join("; ", failures) + "\n" + silo.Output);
        await WaitForLogAsync(silo, port: null);
    }

    // The closings are logged, at most a line per port every 10 s.
    private static Task WaitForLogAsync(SiloProcess silo, string? port)
        => Wait.UntilAsync(
            () => Task.FromResult(silo.Output.Contains("without an Orleans handshake", StringComparison.Ordinal) && (port is null || silo.Output.Contains($"on the {port} port", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(10), "a log line of the closings");

    private static async Task<List<(Socket Socket, Stopwatch Clock)>> OpenAsync(int port, int count)
    {
        var sockets = new List<(Socket, Stopwatch)>();
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, port);
            sockets.Add((socket, Stopwatch.StartNew()));
        }
        return sockets;
    }

    private static void Dispose(List<(Socket Socket, Stopwatch Clock)> sockets)
    {
        foreach (var (socket, _) in sockets)
        {
            socket.Dispose();
        }
    }

    private static async Task<IHost> StartClientAsync(int gatewayPort, DevCertificates? certificates)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.UseOrleansSessions(o =>
        {
            o.Gateways.Add("127.0.0.1:" + gatewayPort.ToString(CultureInfo.InvariantCulture));
            o.ClusterId = "dev";
            o.ConnectTimeout = TimeSpan.FromSeconds(10);
            if (certificates is not null)
            {
                o.CertificateAuthorities.AddRange(CertificateFiles.LoadAuthorities(certificates.Ca));
                o.Certificate = CertificateFiles.LoadWithKey(certificates.File("client.pem"), certificates.File("client.key"));
            }
        }));
        var host = builder.Build();
        try
        {
            await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return host;
    }
}
