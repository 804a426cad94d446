using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansSessions.Client;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Reminders;
using OrleansSessions.Runtime.Storage;
using OrleansSessions.Storage;

namespace OrleansSessions.TestingHost;

/// <summary>
/// Several silos and a client in one process. Silos talk over real loopback TCP and share in-memory
/// membership, reminder and state storage, so a silo can be stopped, killed or added while grains,
/// state and reminders survive on the others.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private static readonly HashSet<int> AllocatedPorts = [];
    private readonly TestClusterBuilder _builder;
    private readonly List<TestSilo> _silos = [];
    private ClusterClient? _client;

    internal TestCluster(TestClusterBuilder builder)
    {
        _builder = builder;
    }

    /// <summary>The membership table all silos share.</summary>
    public InMemoryMembershipTable MembershipTable { get; } = new();

    /// <summary>The reminder table all silos share.</summary>
    public InMemoryReminderTable ReminderTable { get; } = new();

    /// <summary>The grain state storage all silos share.</summary>
    public MemoryGrainStorage Storage { get; } = new();

    /// <summary>The client, connected to the silos' gateways.</summary>
    public IClusterClient Client => _client ?? throw new InvalidOperationException("The cluster is not started.");

    /// <summary>The client's grain factory.</summary>
    public IGrainFactory GrainFactory => Client;

    /// <summary>Every silo started so far, including stopped ones (see <see cref="TestSilo.IsActive"/>).</summary>
    public IReadOnlyList<TestSilo> Silos => _silos;

    /// <summary>The silos that are running.</summary>
    public IReadOnlyList<TestSilo> ActiveSilos => _silos.Where(s => s.IsActive).ToList();

    /// <summary>The first silo.</summary>
    public TestSilo Primary => _silos[0];

    internal async Task DeployAsync()
    {
        for (var i = 0; i < _builder.InitialSilosCount; i++)
        {
            await StartAdditionalSiloAsync().ConfigureAwait(false);
        }
        await WaitForViewAsync().ConfigureAwait(false);
        var clientBuilder = new ClientBuilder().Configure(o =>
        {
            o.ClusterId = _builder.Configuration["Cluster:ClusterId"] ?? "dev";
            o.ApiToken = _builder.Configuration.GetValueOrDefault("Security:ApiToken");
            foreach (var configure in _builder.ClientConfigurations)
            {
                configure(o);
            }
        });
        foreach (var silo in _silos)
        {
            clientBuilder.UseGateways($"127.0.0.1:{silo.GatewayPort}");
        }
        _client = clientBuilder.Build();
        await _client.ConnectAsync().ConfigureAwait(false);
    }

    /// <summary>Starts one more silo and waits until every running silo sees it.</summary>
    public async Task<TestSilo> StartAdditionalSiloAsync()
    {
        var siloPort = AllocatePort();
        var gatewayPort = AllocatePort();
        var httpPort = _builder.EnableHttp ? AllocatePort() : 0;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var configuration = new Dictionary<string, string?>(_builder.Configuration, StringComparer.OrdinalIgnoreCase)
        {
            ["Silo:Host"] = "127.0.0.1",
            ["Silo:SiloPort"] = siloPort.ToString(CultureInfo.InvariantCulture),
            ["Silo:GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
            ["Silo:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
        };
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddSingleton<IMembershipTable>(MembershipTable);
        builder.Services.AddSingleton<IReminderTable>(ReminderTable);
        builder.Services.AddSingleton<IGrainStorage>(Storage);
        foreach (var configure in _builder.SiloServiceConfigurations)
        {
            configure(builder.Services);
        }
        builder.UseOrleansSessionsSilo(silo =>
        {
            if (_builder.GrainTimeProvider is not null)
            {
                silo.UseGrainTimeProvider(_builder.GrainTimeProvider);
            }
            foreach (var configure in _builder.SiloConfigurations)
            {
                configure(silo);
            }
        });
        var app = builder.Build();
        foreach (var configure in _builder.ApplicationConfigurations)
        {
            configure(app);
        }
        await app.StartAsync().ConfigureAwait(false);
        var silo = new TestSilo(app, siloPort, gatewayPort, httpPort);
        _silos.Add(silo);
        await silo.Handle.Started.ConfigureAwait(false);
        if (_client is not null)
        {
            await WaitForViewAsync().ConfigureAwait(false);
        }
        return silo;
    }

    /// <summary>Stops a silo gracefully: it leaves placement, deactivates its grains (persisting them) and leaves membership.</summary>
    public async Task StopSiloAsync(TestSilo silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (!silo.IsActive)
        {
            return;
        }
        silo.IsActive = false;
        await silo.App.StopAsync().ConfigureAwait(false);
        await silo.App.DisposeAsync().ConfigureAwait(false);
        await WaitForViewAsync().ConfigureAwait(false);
    }

    /// <summary>Kills a silo as a crash would: connections drop, activations vanish, membership is not told. The others detect it by probes.</summary>
    public async Task KillSiloAsync(TestSilo silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (!silo.IsActive)
        {
            return;
        }
        silo.IsActive = false;
        silo.Handle.Kill();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync().ConfigureAwait(false);
        try
        {
            await silo.App.StopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await silo.App.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Waits until every running silo sees exactly the running silos as active.</summary>
    public async Task WaitForViewAsync(TimeSpan? timeout = null)
    {
        await WaitUntilAsync(async () =>
        {
            var expected = _silos.Where(s => s.IsActive).Select(s => s.Address).OrderBy(a => a.ToString(), StringComparer.Ordinal).ToList();
            foreach (var silo in _silos.Where(s => s.IsActive))
            {
                await silo.Handle.RefreshMembershipAsync().ConfigureAwait(false);
                if (!silo.Handle.ActiveSilos.SequenceEqual(expected))
                {
                    return false;
                }
            }
            return true;
        }, timeout ?? TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    /// <summary>Deactivates, on every running silo, the activations idle for at least <paramref name="age"/> (zero: every idle one).</summary>
    public async Task<int> CollectIdleActivationsAsync(TimeSpan age)
    {
        var total = 0;
        foreach (var silo in _silos.Where(s => s.IsActive))
        {
            total += await silo.Handle.CollectIdleActivationsAsync(age).ConfigureAwait(false);
        }
        return total;
    }

    /// <summary>Deactivates, on every running silo, the activations without queued work unused for <paramref name="age"/>, even those kept alive by timers.</summary>
    public async Task<int> ForceActivationCollectionAsync(TimeSpan age)
    {
        var total = 0;
        foreach (var silo in _silos.Where(s => s.IsActive))
        {
            total += await silo.Handle.ForceActivationCollectionAsync(age).ConfigureAwait(false);
        }
        return total;
    }

    /// <summary>The activations of <typeparamref name="TGrainInterface"/> on all running silos.</summary>
    public int ActivationCountOf<TGrainInterface>() where TGrainInterface : IGrain
        => _silos.Where(s => s.IsActive).Sum(s => s.Handle.ActivationCountOf<TGrainInterface>());

    /// <summary>Polls <paramref name="condition"/> until it holds; throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string? because = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition().ConfigureAwait(false))
                {
                    return;
                }
                last = null;
            }
            catch (Exception ex)
            {
                last = ex;
            }
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"Condition not met within {timeout}{(because is null ? "" : ": " + because)}.", last);
            }
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>Polls a synchronous condition.</summary>
    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string? because = null)
        => WaitUntilAsync(() => Task.FromResult(condition()), timeout, because);

    /// <summary>Stops every silo and the client.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var silo in _silos.Where(s => s.IsActive).Reverse())
        {
            silo.IsActive = false;
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await silo.App.StopAsync(cts.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Best effort: the process is ending the test.
            }
            await silo.App.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static int AllocatePort()
    {
        lock (AllocatedPorts)
        {
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (AllocatedPorts.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
