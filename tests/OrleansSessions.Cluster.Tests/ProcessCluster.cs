using Npgsql;
using OrleansSessions.Client;

namespace OrleansSessions.Cluster.Tests;

/// <summary>N silo processes on one PostgreSQL database and a client connected to their gateways.</summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("ORLEANSSESSIONS_TEST_POSTGRES")
        ?? "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=orleanssessions_test";

    private ProcessCluster(List<SiloProcess> silos, IClusterClient client, string clusterId)
    {
        Silos = silos;
        Client = client;
        ClusterId = clusterId;
    }

    public List<SiloProcess> Silos { get; }

    public IClusterClient Client { get; }

    public string ClusterId { get; }

    public static async Task<ProcessCluster> StartAsync(int count, IDictionary<string, string>? settings = null)
    {
        await EnsurePostgresAsync().ConfigureAwait(false);
        var clusterId = "proc-" + Guid.NewGuid().ToString("N")[..12];
        var all = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Cluster:ClusterId"] = clusterId,
            ["Storage:Provider"] = "postgres",
            ["Storage:ConnectionString"] = ConnectionString,
            ["Janitor:Period"] = "00:00:02",
            ["Reminders:MinimumReminderPeriod"] = "00:00:01",
            ["Reminders:RefreshPeriod"] = "00:00:02",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
        };
        if (settings is not null)
        {
            foreach (var (key, value) in settings)
            {
                all[key] = value;
            }
        }
        var silos = new List<SiloProcess>();
        try
        {
            foreach (var _ in Enumerable.Range(0, count))
            {
                silos.Add(await SiloProcess.StartAsync(all).ConfigureAwait(false));
            }
            var client = await new ClientBuilder()
                .UseGateways(silos.Select(s => $"127.0.0.1:{s.GatewayPort}").ToArray())
                .Configure(o =>
                {
                    o.ClusterId = clusterId;
                    o.Messaging.ResponseTimeout = TimeSpan.FromSeconds(10);
                })
                .ConnectAsync().ConfigureAwait(false);
            var cluster = new ProcessCluster(silos, client, clusterId);
            await cluster.WaitForActiveSilosAsync(count).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    /// <summary>Waits until the membership table of this cluster lists exactly <paramref name="count"/> active silos.</summary>
    public async Task WaitForActiveSilosAsync(int count, TimeSpan? timeout = null)
    {
        await Wait.UntilAsync(async () => await CountActiveAsync().ConfigureAwait(false) == count, timeout ?? TimeSpan.FromSeconds(30), $"{count} active silos").ConfigureAwait(false);
        // And until every running silo's own view (its last read of the table, which is what its ring follows) agrees.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Wait.UntilAsync(async () =>
        {
            foreach (var silo in Silos.Where(s => !s.HasExited))
            {
                using var cluster = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{silo.HttpPort}/api/cluster")).ConfigureAwait(false));
                var active = cluster.RootElement.GetProperty("silos").EnumerateArray().Count(e => e.GetProperty("status").GetString() == "active");
                if (active != count)
                {
                    return false;
                }
            }
            return true;
        }, timeout ?? TimeSpan.FromSeconds(30), $"every silo sees {count} active silos").ConfigureAwait(false);
    }

    private async Task<long> CountActiveAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM membership WHERE cluster_id = @c AND status = 2", connection);
        command.Parameters.AddWithValue("c", ClusterId);
        return (long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
    }

    /// <summary>Retries a call while the cluster recovers (unreachable gateway, dead owner, timeout).</summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> call, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (Exception ex) when (IsTransient(ex) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }
    }

    public static bool IsTransient(Exception ex) => ex is SiloUnavailableException or GrainCallTimeoutException or TimeoutException
        || ex is NpgsqlException || (ex is GrainCallException g && g.RemoteTypeName?.StartsWith("Npgsql", StringComparison.Ordinal) == true)
        || ex is Storage.InconsistentStateException;

    private static async Task EnsurePostgresAsync()
    {
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString);
            await connection.OpenAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"PostgreSQL is not reachable with '{new NpgsqlConnectionStringBuilder(ConnectionString) { Password = null }}' (run .ci/postgres.sh or set ORLEANSSESSIONS_TEST_POSTGRES): {ex.Message}", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().ConfigureAwait(false);
        foreach (var silo in Silos)
        {
            await silo.DisposeAsync().ConfigureAwait(false);
        }
    }
}
