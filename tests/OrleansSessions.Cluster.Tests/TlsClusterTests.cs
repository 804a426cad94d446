using System.Diagnostics;
using OrleansSessions.Sessions;
using OrleansSessions.Testing;
using Xunit.Abstractions;

namespace OrleansSessions.Cluster.Tests;

/// <summary>A cluster with mutual TLS on PostgreSQL: a silo process without a certificate of the cluster's CA cannot join it.</summary>
[Collection(ProcessCollection.Name)]
public sealed class TlsClusterTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("no TLS")]
    [InlineData("another CA")]
    public async Task A_silo_without_a_certificate_of_the_clusters_CA_does_not_join_it(string intruderKind)
    {
        var certificates = DevCertificates.Instance;
        await using var cluster = await ProcessCluster.StartAsync("tlsjoin", 1, tls: certificates);
        var member = cluster.Silos[0];
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Cluster:ClusterId"] = cluster.ClusterId,
            ["Storage:Provider"] = "postgres",
            ["Storage:ConnectionString"] = ProcessCluster.DefaultConnectionString,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (intruderKind == "another CA")
        {
            // A certificate and CA of its own: the intruder trusts itself, the cluster does not trust it.
            settings["Security:Certificate"] = certificates.File("other-silo.pem");
            settings["Security:CertificateKey"] = certificates.File("other-silo.key");
            settings["Security:CaCertificate"] = certificates.OtherCa;
        }
        var refusal = intruderKind == "another CA" ? "issuer CN=Some other CA" : "Authentication failed";
        var before = member.Output.Split('\n').Count(l => l.Contains(refusal, StringComparison.Ordinal));

        // The intruder tries to join through the membership table and to connect to the member; it never becomes active.
        var clock = Stopwatch.StartNew();
        var joining = SiloProcess.StartAsync(1, settings, TimeSpan.FromSeconds(40));
        await Wait.UntilAsync(() => Task.FromResult(member.Output.Split('\n').Count(l => l.Contains(refusal, StringComparison.Ordinal)) > before),
            TimeSpan.FromSeconds(40), () => $"the member refusing the intruder's connection ('{refusal}')\n{member.Tail()}");
        output.WriteLine($"the member refused the intruder ({intruderKind}) {clock.Elapsed.TotalSeconds:F1} s after it started");

        // A silo that can connect joins within a few seconds; the intruder is still not active in the member's view 15 s on.
        using var http = member.Http(timeout: TimeSpan.FromSeconds(3));
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(15) && !joining.IsCompleted)
        {
            var active = await ProcessCluster.ActiveSilosAsync(http, member);
            Assert.True(active.Count == 1, $"the intruder ({intruderKind}) became active: {string.Join(", ", active)}");
            await Task.WhenAny(joining, Task.Delay(500));
        }
        Assert.Single(await ProcessCluster.ActiveSilosAsync(http, member));
        if (joining.IsCompletedSuccessfully)
        {
            await using var joined = await joining;
            Assert.Fail($"the intruder ({intruderKind}) started serving:\n{joined.Tail()}");
        }

        // The member and its clients carry on.
        var session = await cluster.Client.GetGrain<IUserSessionsGrain>($"{cluster.ClusterId}-u").CreateSessionAsync();
        Assert.Equal(SessionStatus.Active, session.Status);
        Assert.False(member.HasExited, member.Tail());

        // The intruder is still trying (or has given up): either way it goes now.
        try
        {
            await using var intruder = await joining.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            output.WriteLine($"the intruder did not start: {ex.Message.Split('\n')[0]}");
        }
    }
}
