using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansSessions.Client;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using static OrleansSessions.ClientApp.Tests.ClientProcess;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>OrleansSessions.Client's wiring in process: endpoints, UseOrleansSessions, the connect timeout and event subscriptions.</summary>
public sealed class ClientWiringTests(SiloFixture fixture) : IClassFixture<SiloFixture>
{
    private static async Task<IHost> StartClientAsync(Action<SessionClientOptions> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.UseOrleansSessions(configure));
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return host;
    }

    private Action<SessionClientOptions> ToFixture => o =>
    {
        o.Gateways.Add(Gateway(fixture.Cluster));
        o.ClusterId = fixture.Cluster.Options.ClusterId;
    };

    [Theory]
    [InlineData("127.0.0.1:30000", "127.0.0.1", 30000)]
    [InlineData("silo-1:1", "silo-1", 1)]
    [InlineData("[::1]:65535", "::1", 65535)]
    public void Parse_splits_host_and_port(string text, string host, int port)
        => Assert.Equal((host, port), GatewayEndpoints.Parse(text));

    [Theory]
    [InlineData("nowhere")]
    [InlineData(":30000")]
    [InlineData("host:")]
    [InlineData("host:0")]
    [InlineData("host:65536")]
    [InlineData("host:-1")]
    [InlineData("::1:30000")]
    [InlineData("a b:1")]
    public void Parse_rejects_bad_text_naming_it(string text)
    {
        var error = Assert.Throws<FormatException>(() => GatewayEndpoints.Parse(text));
        Assert.Contains($"'{text}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_gives_an_ip_endpoint()
    {
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 30000), GatewayEndpoints.Resolve("127.0.0.1:30000"));
        Assert.Equal(IPAddress.Loopback, GatewayEndpoints.Resolve("localhost:1").Address);
    }

    [Fact]
    public void UseOrleansSessions_sets_cluster_options_and_the_stream_provider()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.UseOrleansSessions("127.0.0.1:30001", "127.0.0.1:30002"));
        using var host = builder.Build();
        var cluster = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ClusterOptions>>().Value;
        Assert.Equal(SessionClientOptions.DefaultClusterId, cluster.ClusterId);
        Assert.Equal(SessionClientOptions.DefaultServiceId, cluster.ServiceId);
        var gateways = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<StaticGatewayListProviderOptions>>().Value.Gateways;
        Assert.Equal(2, gateways.Count);
        Assert.NotNull(host.Services.GetKeyedService<Orleans.Streams.IStreamProvider>(SessionStreams.ProviderName));
        Assert.NotNull(host.Services.GetService<ISessionEvents>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ActivityPropagation_adds_Orleans_activity_propagation_filter(bool propagate)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.UseOrleansSessions(o => o.ActivityPropagation = propagate));
        using var host = builder.Build();
        var filters = host.Services.GetServices<IOutgoingGrainCallFilter>().Select(f => f.GetType().Name).ToList();
        Assert.Equal(propagate, filters.Contains("ActivityPropagationOutgoingGrainCallFilter"));
    }

    [Fact]
    public void UseOrleansSessions_rejects_bad_endpoints_and_options()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        Assert.Throws<FormatException>(() => builder.UseOrleansClient(client => client.UseOrleansSessions("nowhere")));
        Assert.Throws<ArgumentException>(() => builder.UseOrleansClient(client => client.UseOrleansSessions(o => o.ConnectTimeout = TimeSpan.Zero)));
        Assert.Throws<ArgumentException>(() => builder.UseOrleansClient(client => client.UseOrleansSessions(o => o.ResponseTimeout = TimeSpan.FromSeconds(-1))));
    }

    [Theory]
    [InlineData(null, 5.0)]
    [InlineData(12.5, 12.5)]
    public void ResponseTimeout_sets_the_Orleans_clients_response_timeout(double? configured, double expectedSeconds)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.UseOrleansSessions(o =>
        {
            if (configured is { } seconds)
            {
                o.ResponseTimeout = TimeSpan.FromSeconds(seconds);
            }
        }));
        using var host = builder.Build();
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), host.Services.GetRequiredService<IOptions<ClientMessagingOptions>>().Value.ResponseTimeout);
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), host.Services.GetRequiredService<IOptions<SessionClientOptions>>().Value.ResponseTimeout);
    }

    [Fact]
    public async Task No_gateway_fails_after_the_connect_timeout_as_unavailable()
    {
        var stopwatch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartClientAsync(o =>
        {
            o.Gateways.Add($"127.0.0.1:{Ports.Free()}");
            o.ConnectTimeout = TimeSpan.FromSeconds(1.5);
        }));
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(1.4), $"gave up after {stopwatch.Elapsed}");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(15), $"gave up only after {stopwatch.Elapsed}");
        var failure = SessionFailure.Classify(error);
        Assert.True(failure.Kind == SessionFailureKind.Unavailable, $"{error.GetType().FullName}: {error.Message} classified {failure}");
    }

    [Fact]
    public async Task A_client_calls_grains_and_receives_session_events()
    {
        using var host = await StartClientAsync(ToFixture);
        var client = host.Services.GetRequiredService<IClusterClient>();
        var received = new ConcurrentQueue<SessionEvent>();
        var user = Users.New("events");
        await using (await host.Services.GetRequiredService<ISessionEvents>().SubscribeAsync(e =>
        {
            if (e.Session.UserId == user)
            {
                received.Enqueue(e);
            }
            return Task.CompletedTask;
        }))
        {
            // Published by the silo right after the subscription returned: it must arrive.
            var session = await client.GetGrain<IUserSessionsGrain>(user).CreateSessionAsync();
            await client.GetGrain<ISessionGrain>(session.SessionId).CloseAsync();
            await Wait.UntilAsync(() => received.Count >= 2, what: "the created and closed events");
            Assert.Equal([SessionEventType.Created, SessionEventType.Closed], received.Select(e => e.Type));
            Assert.All(received, e => Assert.Equal(session.SessionId, e.Session.SessionId));
        }
        await host.StopAsync();
    }
}
