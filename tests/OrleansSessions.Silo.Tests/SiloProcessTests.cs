using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using OrleansSessions.SiloHost.Hosting;
using OrleansSessions.Testing;

namespace OrleansSessions.Silo.Tests;

/// <summary>The silo host as a process: startup failures end with exit code 1 and one line on stderr naming the key.</summary>
public sealed class SiloProcessTests
{
    private static Task<(int ExitCode, string Stdout, string Stderr)> RunSiloAsync(params string[] arguments)
    {
        Assert.True(File.Exists(Repo.SiloDll), $"{Repo.SiloDll} is not built");
        return ChildProcess.RunAsync("dotnet", [Repo.SiloDll, .. arguments], TimeSpan.FromSeconds(60));
    }

    private static string[] FreePorts() => [$"--Silo:SiloPort={Ports.Free()}", $"--Silo:GatewayPort={Ports.Free()}", $"--Silo:HttpPort={Ports.Free()}"];

    /// <summary>Exit code 1 and exactly one line on stderr, "silo: ..." without a stack trace; returns the line.</summary>
    private static string AssertOneLineFailure((int ExitCode, string Stdout, string Stderr) result)
    {
        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}\nstderr: {result.Stderr}\nstdout: {result.Stdout}");
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("silo: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        return line;
    }

    [Theory]
    [InlineData("Silo:SiloPort")]
    [InlineData("Silo:GatewayPort")]
    [InlineData("Silo:HttpPort")]
    public async Task A_taken_port_fails_with_a_line_naming_its_key(string key)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var arguments = FreePorts().Where(a => !a.StartsWith($"--{key}=", StringComparison.Ordinal)).Append($"--{key}={port}").ToArray();
        var line = AssertOneLineFailure(await RunSiloAsync(arguments));
        Assert.Contains($"{key} {port} is already in use", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_storage_provider_fails_naming_the_key()
    {
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), "--Storage:Provider=cassandra"]));
        Assert.Contains("Storage:Provider 'cassandra' is not supported: use memory, postgres or redis", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_redis_fails_with_one_line_naming_the_connection_string_key()
    {
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), "--Storage:Provider=redis",
            "--Storage:ConnectionString=127.0.0.1:1,password=s3cr3t-pw,connectTimeout=2000"]));
        Assert.Contains("Redis at 127.0.0.1:1 is unreachable (Storage:ConnectionString)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-pw", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redis_without_a_connection_string_fails_naming_the_key()
    {
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), "--Storage:Provider=redis"]));
        Assert.Contains("Storage:ConnectionString must be set when Storage:Provider is redis", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Non_loopback_host_without_token_refuses_to_start()
    {
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), "--Silo:Host=0.0.0.0"]));
        Assert.Contains("Security:ApiToken must be set", line, StringComparison.Ordinal);
        Assert.Contains("Security:Certificate and Security:CaCertificate must be set", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Non_loopback_host_with_a_token_but_no_certificate_refuses_to_start_naming_the_certificate()
    {
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), "--Silo:Host=0.0.0.0", "--Security:ApiToken=s3cret-token-0123456789"]));
        Assert.Contains("Silo:Host 0.0.0.0 is reachable beyond this machine: Security:Certificate and Security:CaCertificate must be set", line, StringComparison.Ordinal);
        Assert.DoesNotContain("ApiToken", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Non_loopback_host_with_a_certificate_but_no_token_refuses_to_start_naming_the_token()
    {
        var certificates = DevCertificates.Instance;
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), "--Silo:Host=0.0.0.0", .. certificates.SiloSettings.Select(kv => $"--{kv.Key}={kv.Value}")]));
        Assert.Contains("Silo:Host 0.0.0.0 is reachable beyond this machine: Security:ApiToken must be set", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Security:Certificate", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Security:Certificate={dir}/missing.pem --Security:CaCertificate={dir}/ca.pem", "Security:Certificate '{dir}/missing.pem' does not exist")]
    [InlineData("--Security:Certificate={dir}/silo.pem --Security:CertificateKey={dir}/missing.key --Security:CaCertificate={dir}/ca.pem", "Security:CertificateKey '{dir}/missing.key' does not exist")]
    [InlineData("--Security:Certificate={dir}/silo.pem --Security:CaCertificate={dir}/ca.pem", "Security:Certificate '{dir}/silo.pem' cannot be loaded (check a PEM private key in the same file, or Security:CertificateKey)")]
    [InlineData("--Security:Certificate={dir}/silo.pem --Security:CertificateKey={dir}/client.key --Security:CaCertificate={dir}/ca.pem", "Security:Certificate '{dir}/silo.pem' cannot be loaded (check Security:CertificateKey)")]
    [InlineData("--Security:Certificate={dir}/silo.pfx --Security:CertificatePassword=wrong --Security:CaCertificate={dir}/ca.pem", "Security:Certificate '{dir}/silo.pfx' cannot be loaded (check Security:CertificatePassword)")]
    [InlineData("--Security:Certificate={dir}/silo-with-key.pem", "Security:CaCertificate must be set when Security:Certificate is")]
    [InlineData("--Security:CaCertificate={dir}/ca.pem", "Security:Certificate must be set when Security:CaCertificate is")]
    [InlineData("--Security:Certificate={dir}/silo-with-key.pem --Security:CaCertificate={dir}/missing-ca.pem", "Security:CaCertificate '{dir}/missing-ca.pem' does not exist")]
    [InlineData("--Security:Certificate={dir}/silo-with-key.pem --Security:CaCertificate={dir}/silo.key", "Security:CaCertificate '{dir}/silo.key' is not a PEM or DER certificate")]
    [InlineData("--Security:Certificate={dir}/other-silo.pem --Security:CertificateKey={dir}/other-silo.key --Security:CaCertificate={dir}/ca.pem", "Security:Certificate '{dir}/other-silo.pem' would be refused by peers trusting Security:CaCertificate '{dir}/ca.pem': not issued by the configured CA")]
    [InlineData("--Security:Certificate={dir}/client.pem --Security:CertificateKey={dir}/client.key --Security:CaCertificate={dir}/ca.pem", "Security:Certificate '{dir}/client.pem' must allow both TLS server and client authentication")]
    public async Task A_certificate_setting_that_cannot_work_fails_naming_the_key(string arguments, string expected)
    {
        var directory = DevCertificates.Instance.Directory;
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), .. arguments.Replace("{dir}", directory, StringComparison.Ordinal).Split(' ')]));
        Assert.Contains(expected.Replace("{dir}", directory, StringComparison.Ordinal), line, StringComparison.Ordinal);
        // Never the password itself.
        Assert.DoesNotContain("=wrong", line, StringComparison.Ordinal);
        Assert.DoesNotContain("'wrong'", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_postgres_fails_with_one_line()
    {
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), "--Storage:Provider=postgres",
            $"--Storage:ConnectionString=Host=127.0.0.1;Port={Ports.Free()};Username=postgres;Password=postgres;Database=nowhere;Timeout=3"]));
        Assert.Contains("PostgreSQL is unreachable", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Password", line, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Postgres_without_a_connection_string_fails_naming_the_key()
    {
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), "--Storage:Provider=postgres"]));
        Assert.Contains("Storage:ConnectionString", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Sessions:IdleTimeout=soon", "Sessions:IdleTimeout")]
    [InlineData("--Sessions:IdleTimeout=00:00:00", "silo: Invalid configuration: Sessions:IdleTimeout must be > 0")]
    [InlineData("--Sessions:MaxPerUser=-1", "Sessions:MaxPerUser must be >= 0")]
    [InlineData("--Janitor:Partitions=0", "Janitor:Partitions must be between 1 and 4096")]
    [InlineData("--Membership:ProbeTimeout=0", "Membership:ProbeTimeout must be a time span > 0")]
    [InlineData("--Membership:NumMissedProbesLimit=zero", "Membership:NumMissedProbesLimit must be an integer >= 1")]
    [InlineData("--GrainCollection:CollectionAge=00:00:30", "GrainCollection:CollectionAge must be > GrainCollection:CollectionQuantum")]
    [InlineData("--Messaging:ResponseTimeout=-00:00:01", "Messaging:ResponseTimeout must be a time span > 0")]
    [InlineData("--Reminders:RefreshPeriod=often", "Reminders:RefreshPeriod must be a time span > 0")]
    [InlineData("--Silo:Host=not-an-address", "Silo:Host must be an IP address")]
    [InlineData("--Gateway:MaxConnections=0", "Gateway:MaxConnections must be a whole number from 1 to")]
    [InlineData("--Silo:MaxPeerConnections=many", "Silo:MaxPeerConnections must be a whole number from 1 to")]
    [InlineData("--Http:MaxConnections=many", "silo: Invalid configuration: Http:MaxConnections must be a whole number from 1 to 2147483647 (got 'many')")]
    [InlineData("--http:maxrequestbodysize=63", "silo: Invalid configuration: Http:MaxRequestBodySize must be a whole number from 64 to 2147483647 (got '63')")]
    [InlineData("--Http:RequestBodyTimeout=00:00:01", "silo: Invalid configuration: Http:RequestBodyTimeout must be a duration (hh:mm:ss) of at least 00:00:02 (got '00:00:01')")]
    [InlineData("--Sse:SendTimeout=soon", "silo: Invalid configuration: Sse:SendTimeout must be a duration (hh:mm:ss) of at least 00:00:01 (got 'soon')")]
    [InlineData("--Sse:MaxSubscribers=-1", "silo: Invalid configuration: Sse:MaxSubscribers must be a whole number from 0 to 2147483647 (got '-1')")]
    [InlineData("--Silo:HandshakeTimeout=0", "Silo:HandshakeTimeout must be a time span > 0")]
    [InlineData("--Silo:HandshakeTimeout=soon", "Silo:HandshakeTimeout must be a time span > 0")]
    [InlineData("--Silo:HandshakeTimeout=02:00:00", "silo: Invalid configuration: Silo:HandshakeTimeout must be at most 01:00:00 (got '02:00:00')")]
    [InlineData("--Silo:SiloPort=0", "silo: Invalid configuration: Silo:SiloPort must be a port from 1 to 65535 (got '0')")]
    [InlineData("--Membership:IAmAliveTimeout=00:00:00.5", "Membership:IAmAliveTimeout must be >= Membership:IAmAlivePeriod")]
    [InlineData("--Sessions:HistoryRetention=00:00:10", "Sessions:HistoryRetention must be 0 (keep) or >= 00:01:00")]
    [InlineData("--Sessions:IdleTimeout=50.00:00:00", "silo: Invalid configuration: Sessions:IdleTimeout must be <= 49.17:02:47.2940000")]
    [InlineData("--Security:ApiToken=short-token", "silo: Invalid configuration: Security:ApiToken must be at least 16 characters")]
    [InlineData("--Security:ApiToken=0123456789abcdef ", "Security:ApiToken must not begin or end with white space")]
    [InlineData("--OpenTelemetry:Endpoint=collector:4317", "OpenTelemetry:Endpoint must be an http:// or https:// URL")]
    [InlineData("--OpenTelemetry:Protocol=udp", "OpenTelemetry:Protocol must be grpc or http/protobuf")]
    [InlineData("--Observability:OrleansDashboard=maybe", "Observability:OrleansDashboard must be true or false")]
    public async Task An_invalid_option_fails_naming_the_key(string argument, string expected)
    {
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), argument]));
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_limit_set_to_nothing_keeps_its_default()
    {
        // The blank limits are passed over, before the host is built and at its start; the start then stops on the next bad key.
        var line = AssertOneLineFailure(await RunSiloAsync([.. FreePorts(), "--Http:MaxConnections=", "--Gateway:MaxConnections= ", "--Sse:SendTimeout=", "--Sessions:IdleTimeout=00:00:00"]));
        Assert.Equal("silo: Invalid configuration: Sessions:IdleTimeout must be > 0", line);
    }

    [Fact]
    public async Task Environment_variables_with_the_prefix_configure_the_silo()
    {
        var environment = new Dictionary<string, string> { ["OrleansSessions__Storage__Provider"] = "nosql" };
        var result = await ChildProcess.RunAsync("dotnet", [Repo.SiloDll, .. FreePorts()], TimeSpan.FromSeconds(60), environment);
        Assert.Contains("Storage:Provider 'nosql'", AssertOneLineFailure(result), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SIGTERM_stops_a_serving_silo_gracefully()
    {
        var silo = await SiloProcess.StartAsync();
        await silo.DisposeAsync();
        Assert.Contains("stopping: leaving placement", silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("stderr:", silo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SIGTERM_with_many_touched_sessions_on_the_memory_default_logs_one_failed_write_behind_at_most()
    {
        // Memory default: touches are written at deactivation, and at shutdown Orleans' memory storage grains may be
        // gone before the sessions try; that used to log one warning per session.
        var silo = await SiloProcess.StartAsync();
        using (var http = silo.Http())
        {
            for (var i = 0; i < 150; i++)
            {
                using var created = await http.PostAsync("/api/sessions", new StringContent($"{{\"userId\":\"shutdown-{i}\"}}", System.Text.Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                using var body = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync());
                var sessionId = body.RootElement.GetProperty("sessionId").GetString();
                using var touched = await http.PostAsync($"/api/sessions/{sessionId}/touch", null);
                Assert.Equal(HttpStatusCode.OK, touched.StatusCode);
            }
        }
        await silo.DisposeAsync();
        Assert.Contains("stopping: leaving placement", silo.Output, StringComparison.Ordinal);
        var warnings = silo.Output.Split('\n').Count(line => line.Contains("writing its touches", StringComparison.Ordinal));
        Assert.True(warnings <= 1, $"{warnings} write-behind warnings at shutdown");
    }

    [Theory]
    [InlineData("short-token", "Security:ApiToken must be at least 16 characters")]
    [InlineData("0123456789abcde", "Security:ApiToken must be at least 16 characters")]
    [InlineData(" 0123456789abcdef", "Security:ApiToken must not begin or end with white space")]
    [InlineData("0123456789abcdef\t", "Security:ApiToken must not begin or end with white space")]
    [InlineData("                ", "Security:ApiToken must not begin or end with white space")]
    public void A_short_or_padded_api_token_is_refused_without_echoing_it(string token, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Security:ApiToken"] = token }).Build();
        var exception = Assert.Throws<SiloConfigurationException>(() => SiloSettings.Read(configuration));
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
        if (token.Trim().Length > 0)
        {
            Assert.DoesNotContain(token.Trim(), exception.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_api_token_of_16_characters_is_accepted()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Security:ApiToken"] = "0123456789abcdef" }).Build();
        Assert.Equal("0123456789abcdef", SiloSettings.Read(configuration).ApiToken);
    }

    private static IConfiguration Configuration(string settings)
        => new ConfigurationBuilder().AddInMemoryCollection(settings.Split(';').Select(kv => kv.Split('=', 2)).Select(kv => KeyValuePair.Create(kv[0], (string?)kv[1]))).Build();

    [Theory]
    [InlineData("Silo:SiloPort=70000", "Silo:SiloPort must be a port from 1 to 65535 (got '70000')")]
    [InlineData("Silo:GatewayPort=gateway", "Silo:GatewayPort must be a port from 1 to 65535 (got 'gateway')")]
    [InlineData("Silo:HttpPort=-1", "Silo:HttpPort must be a port from 0 to 65535 (got '-1')")]
    [InlineData("Silo:SiloPort=12000;Silo:GatewayPort=12000", "Silo:SiloPort and Silo:GatewayPort must differ (both 12000)")]
    [InlineData("Silo:GatewayPort=12000;Silo:HttpPort=12000", "Silo:HttpPort 12000 is also used by Silo:SiloPort or Silo:GatewayPort")]
    [InlineData("Silo:Host= example.org ", "Silo:Host must be an IP address such as 127.0.0.1 (got 'example.org')")]
    [InlineData("silo:handshaketimeout=soon", "Silo:HandshakeTimeout must be a time span > 0 such as 00:00:05 (got 'soon')")]
    [InlineData("Membership:NumProbedSilos=0", "Membership:NumProbedSilos must be an integer >= 1 (got '0')")]
    [InlineData("Membership:TableRefreshPeriod=never", "Membership:TableRefreshPeriod must be a time span > 0 such as 00:00:05 (got 'never')")]
    [InlineData("Membership:IAmAlivePeriod=00:00:20", "Membership:IAmAliveTimeout must be >= Membership:IAmAlivePeriod")]
    [InlineData("GrainCollection:CollectionQuantum=0", "GrainCollection:CollectionQuantum must be a time span > 0 such as 00:00:05 (got '0')")]
    [InlineData("GrainCollection:CollectionQuantum=00:20:00", "GrainCollection:CollectionAge must be > GrainCollection:CollectionQuantum")]
    [InlineData("Reminders:MinimumReminderPeriod=-00:01:00", "Reminders:MinimumReminderPeriod must be a time span > 0 such as 00:00:05 (got '-00:01:00')")]
    [InlineData("Storage:Provider=Cassandra", "Storage:Provider 'Cassandra' is not supported: use memory, postgres or redis.")]
    [InlineData("Storage:Provider= postgres;Storage:ConnectionString= ", "Storage:ConnectionString must be set when Storage:Provider is postgres.")]
    [InlineData("Security:CertificateKey=silo.key", "Security:CertificateKey is set but Security:Certificate is not.")]
    public void A_host_key_out_of_range_is_refused_naming_it(string settings, string expected)
    {
        var exception = Assert.Throws<SiloConfigurationException>(() => SiloSettings.Read(Configuration(settings)));
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_keys_of_several_sections_are_reported_together()
    {
        var exception = Assert.Throws<SiloConfigurationException>(() => SiloSettings.Read(Configuration("Silo:SiloPort=0;Messaging:ResponseTimeout=0;Reminders:RefreshPeriod=often")));
        Assert.Equal(
            "Invalid configuration: Silo:SiloPort must be a port from 1 to 65535 (got '0'); Messaging:ResponseTimeout must be a time span > 0 such as 00:00:05 (got '0'); Reminders:RefreshPeriod must be a time span > 0 such as 00:00:05 (got 'often')",
            exception.Message);
    }

    [Fact]
    public void Host_keys_set_to_nothing_keep_their_defaults()
    {
        var settings = SiloSettings.Read(Configuration("Silo:Host= ;Silo:SiloPort=;Silo:GatewayPort= ;Cluster:ClusterId= ;Storage:Provider=;Membership:ProbeTimeout= ;Silo:HandshakeTimeout="));
        Assert.Equal(IPAddress.Loopback, settings.Host);
        Assert.Equal((11111, 30000, 8080), (settings.SiloPort, settings.GatewayPort, settings.HttpPort));
        Assert.Equal(("dev", "memory"), (settings.ClusterId, settings.StorageProvider));
        Assert.Equal(TimeSpan.FromSeconds(1), settings.ProbeTimeout);
        Assert.Equal(HandshakeTimeout.DefaultTimeout, settings.HandshakeTimeout);
    }

    [Fact]
    public void Host_keys_are_bound_from_their_sections()
    {
        var settings = SiloSettings.Read(Configuration(
            "Silo:Host=localhost;Silo:SiloPort=12000;Silo:GatewayPort=12001;Silo:HttpPort=0;Cluster:ClusterId= blue ;Storage:Provider=PostgreSQL;Storage:ConnectionString=Host=db;"
            + "Membership:NumProbedSilos=5;Membership:IAmAliveTimeout=00:00:30;GrainCollection:CollectionAge=01:00:00;Messaging:ResponseTimeout=00:00:10;Reminders:RefreshPeriod=00:05:00;Silo:HandshakeTimeout=00:00:02"));
        Assert.Equal(IPAddress.Loopback, settings.Host);
        Assert.Equal((12000, 12001, 0), (settings.SiloPort, settings.GatewayPort, settings.HttpPort));
        Assert.Equal(("blue", "postgres", "Host=db"), (settings.ClusterId, settings.StorageProvider, settings.ConnectionString));
        Assert.Equal(5, settings.NumProbedSilos);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.IAmAliveTimeout);
        Assert.Equal(TimeSpan.FromHours(1), settings.CollectionAge);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.ResponseTimeout);
        Assert.Equal(TimeSpan.FromMinutes(5), settings.ReminderRefreshPeriod);
        Assert.Equal(TimeSpan.FromSeconds(2), settings.HandshakeTimeout);
    }

    [Fact]
    public void OpenTelemetry_and_Observability_keys_are_bound_from_their_sections()
    {
        var settings = OpenTelemetrySettings.Read(Configuration("OpenTelemetry:Endpoint= http://127.0.0.1:4318 ;OpenTelemetry:Protocol=HTTP/Protobuf;Observability:OrleansDashboard=False"));
        Assert.Equal(new Uri("http://127.0.0.1:4318"), settings.Endpoint);
        Assert.Equal(OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf, settings.Protocol);
        Assert.False(settings.OrleansDashboard);
        var defaults = OpenTelemetrySettings.Read(Configuration("OpenTelemetry:Endpoint= ;OpenTelemetry:Protocol=;Observability:OrleansDashboard= "));
        Assert.Equal((null, OpenTelemetry.Exporter.OtlpExportProtocol.Grpc, true), (defaults.Endpoint, defaults.Protocol, defaults.OrleansDashboard));
    }

    [Fact]
    public void Bad_OpenTelemetry_and_Observability_keys_are_reported_together()
    {
        var exception = Assert.Throws<SiloConfigurationException>(() => OpenTelemetrySettings.Read(Configuration("OpenTelemetry:Endpoint=ftp://collector;OpenTelemetry:Protocol=udp;Observability:OrleansDashboard=maybe")));
        Assert.Equal(
            "Invalid configuration: OpenTelemetry:Endpoint must be an http:// or https:// URL such as http://127.0.0.1:4317 (got 'ftp://collector'); OpenTelemetry:Protocol must be grpc or http/protobuf (got 'udp'); Observability:OrleansDashboard must be true or false (got 'maybe')",
            exception.Message);
    }

    [Fact]
    public void Port_in_use_is_described_by_its_key()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Silo:SiloPort"] = "12000", ["Silo:GatewayPort"] = "12001", ["Silo:HttpPort"] = "12002" })
            .Build();
        var exception = new IOException("Failed to bind to address http://127.0.0.1:12000: address already in use.", new Microsoft.AspNetCore.Connections.AddressInUseException("in use"));
        Assert.True(StartupFailure.TryDescribe(exception, configuration, out var message));
        Assert.StartsWith("Silo:SiloPort 12000 is already in use", message, StringComparison.Ordinal);
        Assert.False(StartupFailure.TryDescribe(new InvalidOperationException("other"), configuration, out _));
    }

    [Fact]
    public void A_configuration_value_of_the_wrong_type_is_described_by_its_key()
    {
        var exception = new InvalidOperationException("Failed to convert configuration value 'soon' at 'Sessions:IdleTimeout' to type 'System.TimeSpan'.");
        Assert.True(StartupFailure.TryDescribe(exception, null, out var message));
        Assert.Equal("Invalid configuration: Sessions:IdleTimeout 'soon' is not a valid TimeSpan", message);
    }
}
