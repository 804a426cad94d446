using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans.Configuration;
using OrleansSessions.Client.Security;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using OrleansSessions.Testing;

namespace OrleansSessions.Cluster.Tests;

/// <summary>
/// N real silo processes of one cluster (its own Cluster:ClusterId) on PostgreSQL (or Redis), and an Orleans client
/// (<c>UseOrleansClient</c> + <c>UseOrleansSessions</c>) with every silo's gateway, the first silo's gateway first.
/// Disposing stops the client and kills every silo it started.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private readonly IHost? _clientHost;

    private ProcessCluster(string clusterId, List<SiloProcess> silos, IHost clientHost)
    {
        ClusterId = clusterId;
        Silos = silos;
        _clientHost = clientHost;
        Client = clientHost.Services.GetRequiredService<IClusterClient>();
    }

    /// <summary>ORLEANSSESSIONS_TEST_POSTGRES, or the local test database of .ci/postgres.sh.</summary>
    public static string DefaultConnectionString =>
        Environment.GetEnvironmentVariable("ORLEANSSESSIONS_TEST_POSTGRES")
        ?? "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=orleanssessions_test;Maximum Pool Size=20";

    /// <summary>ORLEANSSESSIONS_TEST_REDIS, or the local instance of scripts/test.sh (127.0.0.1:6380).</summary>
    public static string DefaultRedisConnectionString =>
        Environment.GetEnvironmentVariable("ORLEANSSESSIONS_TEST_REDIS") is { Length: > 0 } redis ? redis : "127.0.0.1:6380";

    public string ClusterId { get; }

    public IReadOnlyList<SiloProcess> Silos { get; }

    public IClusterClient Client { get; }

    public IEnumerable<SiloProcess> Running => Silos.Where(s => !s.HasExited);

    public static string NewClusterId(string prefix) => $"ct-{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 15)];

    /// <summary>
    /// Starts <paramref name="count"/> silos (the first alone, so that it applies the schema, then the rest at once) and the client,
    /// on <paramref name="provider"/> (Storage:Provider: postgres, the default, or redis) at <paramref name="connectionString"/>
    /// (default <see cref="DefaultConnectionString"/> or <see cref="DefaultRedisConnectionString"/>).
    /// </summary>
    /// <remarks>
    /// With <paramref name="tls"/>, every silo runs with its silo certificate and CA (Security:Certificate,
    /// Security:CertificateKey, Security:CaCertificate) and the client presents its client certificate.
    /// </remarks>
    public static async Task<ProcessCluster> StartAsync(string prefix, int count, IReadOnlyDictionary<string, string>? settings = null, string? connectionString = null, string provider = "postgres", DevCertificates? tls = null)
    {
        if (provider == "redis")
        {
            connectionString ??= DefaultRedisConnectionString;
            await EnsureRedisAsync(connectionString).ConfigureAwait(false);
        }
        else
        {
            connectionString ??= DefaultConnectionString;
            await EnsurePostgresAsync(connectionString).ConfigureAwait(false);
        }
        var clusterId = NewClusterId(prefix);
        var all = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Cluster:ClusterId"] = clusterId,
            ["Storage:Provider"] = provider,
            ["Storage:ConnectionString"] = connectionString,
            ["Janitor:Period"] = "00:00:02",
            ["Reminders:RefreshPeriod"] = "00:00:05",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:OrleansSessions"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
        };
        foreach (var (key, value) in tls?.SiloSettings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }
        var silos = new List<SiloProcess>();
        IHost? clientHost = null;
        try
        {
            silos.Add(await SiloProcess.StartAsync(0, all).ConfigureAwait(false));
            var rest = Enumerable.Range(1, count - 1).Select(i => SiloProcess.StartAsync(i, all)).ToList();
            try
            {
                await Task.WhenAll(rest).ConfigureAwait(false);
            }
            finally
            {
                silos.AddRange(rest.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
            }
            silos.Sort((a, b) => a.Index.CompareTo(b.Index));

            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleansClient(client =>
            {
                client.UseOrleansSessions(o =>
                {
                    foreach (var silo in silos)
                    {
                        o.Gateways.Add(silo.Gateway);
                    }
                    o.ClusterId = clusterId;
                    o.ConnectTimeout = TimeSpan.FromSeconds(20);
                    if (tls is not null)
                    {
                        o.CertificateAuthorities.AddRange(CertificateFiles.LoadAuthorities(tls.Ca));
                        o.Certificate = CertificateFiles.LoadWithKey(tls.File("client.pem"), tls.File("client.key"));
                    }
                });
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
            });
            clientHost = builder.Build();
            await clientHost.StartAsync().ConfigureAwait(false);
            var cluster = new ProcessCluster(clusterId, silos, clientHost);
            await cluster.WaitForActiveSilosAsync(count, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            if (clientHost is not null)
            {
                await StopClientAsync(clientHost).ConfigureAwait(false);
            }
            foreach (var silo in silos)
            {
                await silo.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    /// <summary>Waits until every running silo's own membership view (GET /api/cluster) lists exactly <paramref name="count"/> active silos.</summary>
    public async Task WaitForActiveSilosAsync(int count, TimeSpan timeout)
    {
        using var http = Silos[0].Http(timeout: TimeSpan.FromSeconds(3));
        var seen = "";
        await Wait.UntilAsync(async () =>
        {
            var views = new List<string>();
            var ok = true;
            foreach (var silo in Running)
            {
                var active = await ActiveSilosAsync(http, silo).ConfigureAwait(false);
                views.Add($"silo {silo.Index}: {active.Count} active");
                ok &= active.Count == count;
            }
            seen = string.Join("; ", views);
            return ok;
        }, timeout, () => $"{count} active silos in every running silo's view ({seen})").ConfigureAwait(false);
    }

    /// <summary>The addresses of the silos <paramref name="silo"/> sees as active.</summary>
    public static async Task<List<string>> ActiveSilosAsync(HttpClient http, SiloProcess silo)
    {
        using var cluster = JsonDocument.Parse(await http.GetStringAsync(silo.Url("/api/cluster")).ConfigureAwait(false));
        return cluster.RootElement.GetProperty("silos").EnumerateArray()
            .Where(e => e.GetProperty("status").GetString() == "active")
            .Select(e => e.GetProperty("address").GetString() ?? "")
            .ToList();
    }

    /// <summary>The tails of every silo's output, for failure messages.</summary>
    public string Logs(int lines = 30) => string.Join('\n', Silos.Select(s => s.Tail(lines)));

    private static async Task EnsurePostgresAsync(string connectionString)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"PostgreSQL is not reachable with '{new NpgsqlConnectionStringBuilder(connectionString) { Password = null }}' (run .ci/postgres.sh or set ORLEANSSESSIONS_TEST_POSTGRES): {ex.Message}", ex);
        }
    }

    private static async Task EnsureRedisAsync(string connectionString)
    {
        var endpoint = connectionString.Split(',')[0];
        try
        {
            await RedisPing.PingAsync(endpoint).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"Redis is not reachable at '{endpoint}' (run scripts/test.sh, which starts redis-server on 127.0.0.1:6380, or set ORLEANSSESSIONS_TEST_REDIS): {ex.Message}", ex);
        }
    }

    private static async Task StopClientAsync(IHost host)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await host.StopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or OrleansException or TimeoutException)
        {
            // the cluster is (partly) gone: nothing to say goodbye to
        }
        host.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (_clientHost is not null)
        {
            await StopClientAsync(_clientHost).ConfigureAwait(false);
        }
        foreach (var silo in Silos)
        {
            await silo.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Grain calls while the cluster recovers.</summary>
internal static class Calls
{
    /// <summary>A transient cluster failure: Orleans unavailable/timeout (<see cref="SessionFailureKind.Unavailable"/>) or a per-attempt timeout.</summary>
    public static bool IsTransient(Exception ex) => ex is TimeoutException || SessionFailure.Classify(ex).Kind == SessionFailureKind.Unavailable;

    /// <summary>Retries <paramref name="call"/> on transient failures, each attempt bounded by <paramref name="attempt"/>, until <paramref name="timeout"/>.</summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> call, TimeSpan timeout, TimeSpan? attempt = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await call().WaitAsync(attempt ?? TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsTransient(ex) && clock.Elapsed < timeout)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }
    }
}
