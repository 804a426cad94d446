using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansSessions.Client.Security;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.Testing;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// A silo with Security:Certificate and Security:CaCertificate (scripts/dev-certs.sh): its gateway and silo ports
/// accept only TLS peers holding a certificate of the dev CA for their role, and its HTTP port speaks HTTPS.
/// </summary>
public sealed class TlsTests(TlsTests.TlsSiloFixture fixture) : IClassFixture<TlsTests.TlsSiloFixture>
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);

    /// <summary>One silo process with TLS on the dev CA.</summary>
    public sealed class TlsSiloFixture : IAsyncLifetime
    {
        internal SiloProcess Silo { get; private set; } = null!;

        public DevCertificates Certificates { get; } = DevCertificates.Instance;

        public async Task InitializeAsync()
            => Silo = await SiloProcess.StartAsync([.. Certificates.SiloSettings.Select(kv => $"--{kv.Key}={kv.Value}")]);

        public async Task DisposeAsync() => await Silo.DisposeAsync();
    }

    private DevCertificates Certificates => fixture.Certificates;

    /// <summary>Starts an Orleans client on the fixture's gateway: TLS trusting <paramref name="ca"/> when given, presenting <paramref name="certificate"/> when given.</summary>
    private async Task<IHost> StartClientAsync(string? ca, string? certificate)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.UseOrleansSessions(o =>
        {
            o.Gateways.Add($"127.0.0.1:{fixture.Silo.GatewayPort}");
            o.ConnectTimeout = ConnectTimeout;
            if (ca is not null)
            {
                o.CertificateAuthorities.AddRange(CertificateFiles.LoadAuthorities(Certificates.File(ca)));
            }
            if (certificate is not null)
            {
                o.Certificate = CertificateFiles.LoadWithKey(Certificates.File($"{certificate}.pem"), Certificates.File($"{certificate}.key"));
            }
        }));
        var host = builder.Build();
        try
        {
            await host.StartAsync().WaitAsync(ConnectTimeout + TimeSpan.FromSeconds(20));
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return host;
    }

    [Fact]
    public async Task A_client_with_a_certificate_of_the_cluster_CA_calls_grains()
    {
        using var host = await StartClientAsync("ca.pem", "client");
        var client = host.Services.GetRequiredService<IClusterClient>();
        var user = NewUser("tls");
        var created = await client.GetGrain<IUserSessionsGrain>(user).CreateSessionAsync();
        var read = await client.GetGrain<ISessionGrain>(created.SessionId).GetAsync();
        Assert.Equal(user, read.UserId);
        Assert.Equal(SessionStatus.Active, read.Status);
        await host.StopAsync();
    }

    [Theory]
    [InlineData("plaintext, no TLS", null, null, "Authentication failed")]
    [InlineData("TLS without a client certificate", "ca.pem", null, "Authentication failed")]
    [InlineData("a certificate of another CA", "ca.pem", "other-client", "issuer CN=Some other CA")]
    public async Task A_client_without_a_certificate_of_the_cluster_CA_is_refused_within_its_connect_timeout(string what, string? ca, string? certificate, string siloLog)
    {
        var clock = Stopwatch.StartNew();
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => StartClientAsync(ca, certificate));
        var failure = SessionFailure.Classify(exception);
        Assert.True(failure.Kind == SessionFailureKind.Unavailable, $"{what}: {exception.GetType().Name}: {exception.Message}");
        Assert.True(clock.Elapsed < ConnectTimeout + TimeSpan.FromSeconds(10), $"{what}: refused only after {clock.Elapsed}");
        // The silo turned it away during the TLS handshake, before Orleans read a message.
        await Wait.UntilAsync(() => Task.FromResult(fixture.Silo.Output.Contains(siloLog, StringComparison.Ordinal)), TimeSpan.FromSeconds(10), $"silo log '{siloLog}'");
    }

    [Fact]
    public async Task A_client_refuses_a_gateway_whose_certificate_is_not_of_its_CA()
    {
        // The client trusts only the other CA, so the silo's certificate (of the dev CA) is refused on the client's side.
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => StartClientAsync("other-ca.pem", "client"));
        Assert.Equal(SessionFailureKind.Unavailable, SessionFailure.Classify(exception).Kind);
    }

    private enum Verdict
    {
        /// <summary>The handshake failed, or the silo closed the connection right after it without reading a byte.</summary>
        Refused,

        /// <summary>The silo sent data over the TLS connection.</summary>
        Answered,

        /// <summary>Open and silent until the deadline: both ports wait for the peer's Orleans preamble (for Silo:HandshakeTimeout, 5 s here).</summary>
        Silent,
    }

    /// <summary>
    /// A TLS handshake with the silo's <paramref name="port"/> presenting <paramref name="certificate"/> (none when null).
    /// .NET completes the handshake before it checks the client's certificate, so a refusal may show as the silo
    /// closing the connection just after the handshake.
    /// </summary>
    private async Task<Verdict> HandshakeAsync(string port, string? certificate, TimeSpan silence)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port == "silo" ? fixture.Silo.SiloPort : fixture.Silo.GatewayPort);
        var validator = new CertificateAuthorityValidator(CertificateFiles.LoadAuthorities(Certificates.Ca), [CertificateAuthorityValidator.ServerAuthentication]);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false,
            (_, presented, chain, errors) => presented is X509Certificate2 server && validator.Validate(server, chain, errors));
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = certificate is null ? null : [CertificateFiles.LoadWithKey(Certificates.File($"{certificate}.pem"), Certificates.File($"{certificate}.key"))],
        };
        using var deadline = new CancellationTokenSource(silence);
        try
        {
            await tls.AuthenticateAsClientAsync(options, deadline.Token);
            return await tls.ReadAsync(new byte[256], deadline.Token) > 0 ? Verdict.Answered : Verdict.Refused;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return Verdict.Refused;
        }
        catch (OperationCanceledException)
        {
            return Verdict.Silent;
        }
    }

    [Theory]
    [InlineData("silo", null)]
    [InlineData("silo", "other-silo")]
    [InlineData("silo", "client")]
    [InlineData("gateway", null)]
    [InlineData("gateway", "other-client")]
    public async Task A_TLS_connection_without_a_certificate_of_the_cluster_CA_for_the_ports_role_is_closed_before_Orleans_reads_it(string port, string? certificate)
        => Assert.Equal(Verdict.Refused, await HandshakeAsync(port, certificate, TimeSpan.FromSeconds(15)));

    [Fact]
    public async Task A_silo_certificate_of_the_cluster_CA_opens_the_silo_port()
        => Assert.Equal(Verdict.Silent, await HandshakeAsync("silo", "silo", TimeSpan.FromSeconds(2)));

    [Fact]
    public async Task A_TLS_session_opened_on_the_gateway_port_does_not_let_a_client_certificate_onto_the_silo_port()
    {
        // The client's TLS stack caches the gateway session and offers it to the silo port, which may resume it but
        // must check the certificate of the resumed session for its own role all the same.
        Assert.Equal(Verdict.Silent, await HandshakeAsync("gateway", "client", TimeSpan.FromSeconds(2)));
        Assert.Equal(Verdict.Refused, await HandshakeAsync("silo", "client", TimeSpan.FromSeconds(15)));
    }

    [Theory]
    [InlineData("gateway", "http")]
    [InlineData("gateway", "random")]
    [InlineData("gateway", "nothing")]
    [InlineData("silo", "http")]
    [InlineData("silo", "random")]
    public async Task Plaintext_or_random_bytes_on_a_TLS_port_get_the_connection_closed_and_the_silo_stays_healthy(string port, string payload)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port == "silo" ? fixture.Silo.SiloPort : fixture.Silo.GatewayPort);
        var stream = tcp.GetStream();
        var bytes = payload switch
        {
            "http" => Encoding.ASCII.GetBytes("GET /api/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
            "random" => RandomNumberGenerator.GetBytes(4096),
            _ => [],
        };
        var clock = Stopwatch.StartNew();
        try
        {
            await stream.WriteAsync(bytes);
        }
        catch (IOException)
        {
            // Closed while writing: closed all the same.
        }
        // Closed means a read ends (0 bytes or a reset) before the deadline; a TLS alert or two may come first.
        var closed = false;
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (await stream.ReadAsync(buffer, deadline.Token) > 0)
            {
            }
            closed = true;
        }
        catch (IOException)
        {
            closed = true;
        }
        catch (OperationCanceledException)
        {
        }
        Assert.True(closed, $"the {port} port kept a connection that sent {payload} open for {clock.Elapsed}");

        using var http = fixture.Silo.Http();
        Assert.Equal("ok", (await SendAsync(http, HttpMethod.Get, "/healthz", 200)).GetProperty("status").GetString());
        using var host = await StartClientAsync("ca.pem", "client");
        var session = await host.Services.GetRequiredService<IClusterClient>().GetGrain<IUserSessionsGrain>(NewUser("tls")).CreateSessionAsync();
        Assert.Equal(SessionStatus.Active, session.Status);
    }

    [Fact]
    public async Task A_flood_of_failed_handshakes_writes_a_few_log_lines_not_one_per_connection()
    {
        const int PerPort = 60;
        var before = WarningCount(fixture.Silo.Output);
        foreach (var port in new[] { fixture.Silo.GatewayPort, fixture.Silo.SiloPort })
        {
            for (var i = 0; i < PerPort; i++)
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, port);
                var stream = tcp.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    while (await stream.ReadAsync(new byte[512], deadline.Token) > 0)
                    {
                    }
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException)
                {
                }
            }
        }
        // The silo logs each failed handshake once it has closed the connection; wait until the lines have settled.
        using var http = fixture.Silo.Http();
        Assert.Equal("ok", (await SendAsync(http, HttpMethod.Get, "/healthz", 200)).GetProperty("status").GetString());
        var logged = WarningCount(fixture.Silo.Output) - before;
        Assert.True(logged >= 1, "no failed handshake was logged at all");
        // 120 failed handshakes: without the bound that is 120 lines or more.
        Assert.True(logged <= 24, $"{logged} warning lines for {2 * PerPort} failed handshakes:\n{fixture.Silo.Output}");
    }

    private static int WarningCount(string output) => output.Split('\n').Count(l => l.Contains("warn:", StringComparison.Ordinal));

    [Fact]
    public async Task The_client_app_connects_with_cert_key_and_ca_given_as_options_or_environment_variables()
    {
        var dll = Path.Combine(Repo.Root, "client", "bin", Repo.Configuration, "net10.0", "OrleansSessions.ClientApp.dll");
        Assert.True(File.Exists(dll), $"{dll} is not built");
        string[] target = [dll, "--gateway", $"127.0.0.1:{fixture.Silo.GatewayPort}", "--connect-timeout", "3", "--json"];
        var timeout = TimeSpan.FromSeconds(60);

        var withOptions = await ChildProcess.RunAsync("dotnet", [.. target, "--cert", Certificates.File("client.pem"), "--key", Certificates.File("client.key"), "--ca", Certificates.Ca, "create", NewUser("cli")], timeout);
        Assert.True(withOptions.ExitCode == 0, withOptions.Stderr);
        Assert.Contains("\"status\":\"active\"", withOptions.Stdout, StringComparison.Ordinal);

        var environment = new Dictionary<string, string>
        {
            ["ORLEANSSESSIONS_CERT"] = Certificates.File("silo.pfx"),
            ["ORLEANSSESSIONS_CERT_PASSWORD"] = DevCertificates.PfxPassword,
            ["ORLEANSSESSIONS_CA"] = Certificates.Ca,
        };
        var withEnvironment = await ChildProcess.RunAsync("dotnet", [.. target, "create", NewUser("cli")], timeout, environment);
        Assert.True(withEnvironment.ExitCode == 0, withEnvironment.Stderr);

        var without = await ChildProcess.RunAsync("dotnet", [.. target, "create", NewUser("cli")], timeout);
        Assert.Equal(5, without.ExitCode);
        Assert.StartsWith("error: unavailable", without.Stderr, StringComparison.Ordinal);

        var unreadable = await ChildProcess.RunAsync("dotnet", [.. target, "--cert", Certificates.File("client.pem"), "--ca", Certificates.Ca, "create", NewUser("cli")], timeout);
        Assert.Equal(2, unreadable.ExitCode);
        Assert.Contains("--cert", unreadable.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_HTTP_port_speaks_HTTPS_with_the_silo_certificate_and_refuses_plain_HTTP()
    {
        X509Certificate2? served = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, chain, errors) =>
            {
                served = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.RawData);
                return certificate is not null && new CertificateAuthorityValidator(CertificateFiles.LoadAuthorities(Certificates.Ca), [CertificateAuthorityValidator.ServerAuthentication]).Validate(certificate, chain, errors);
            },
        };
        using var https = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{fixture.Silo.HttpPort}") };
        await SendAsync(https, HttpMethod.Get, "/healthz", 200);
        Assert.NotNull(served);
        Assert.Equal(X509CertificateLoader.LoadCertificateFromFile(Certificates.File("silo.pem")).Thumbprint, served.Thumbprint);

        using var plain = ApiCluster.Http(fixture.Silo.HttpPort);
        await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync("/healthz"));
    }
}
