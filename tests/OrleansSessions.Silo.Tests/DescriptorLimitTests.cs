using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// Issue 16: a flood of idle connections to every port of a silo with a small open-file limit. Without caps the
/// process reaches the limit, after which accepts fail (Orleans' accept loop stops for good, Kestrel's spins); with them
/// the ports beyond their caps refuse and the rest of the silo keeps serving.
/// </summary>
public sealed class DescriptorLimitTests
{
    private const int OpenFileLimit = 1024;

    // More connections per port than the whole process may hold descriptors.
    private const int FloodPerPort = OpenFileLimit + 100;

    [Fact]
    public async Task A_connection_flood_to_the_descriptor_limit_leaves_the_silo_serving()
    {
        await using var silo = await SiloProcess.StartAsync(OpenFileLimit);
        var flood = new List<Socket>();
        try
        {
            // Hold idle connections on the Orleans ports beyond what the process could hold.
            await OpenAsync(flood, silo.GatewayPort, FloodPerPort);
            await OpenAsync(flood, silo.SiloPort, FloodPerPort);
            Assert.False(silo.HasExited, silo.Output);

            // HTTP still serves, and a grain call through the silo's hosted client works. (The refused connections are
            // closed as they are accepted; on a loaded machine the last of them may still hold descriptors for a moment.)
            using (var http = silo.Http())
            {
                await Wait.UntilAsync(async () =>
                {
                    try
                    {
                        using var health = await http.GetAsync("/healthz");
                        return health.StatusCode == HttpStatusCode.OK;
                    }
                    catch (HttpRequestException)
                    {
                        return false;
                    }
                }, TimeSpan.FromSeconds(10), "/healthz answering during the flood");
                var created = await ReadJsonAsync(await http.PostAsync("/api/sessions", Json("{\"userId\":\"during-flood\"}")));
                Assert.StartsWith("sess_", created.GetProperty("sessionId").GetString(), StringComparison.Ordinal);
            }

            // Now HTTP too: beyond its cap Kestrel closes new connections; the process survives.
            await OpenAsync(flood, silo.HttpPort, FloodPerPort);
            Assert.False(silo.HasExited, silo.Output);
            // Refusals are logged, but not once per connection: at most a line per port every 10 s.
            Assert.InRange(CountLines(silo.Output, "connection(s) on the gateway port"), 1, 3);
            Assert.InRange(CountLines(silo.Output, "connection(s) on the silo port"), 1, 3);
        }
        finally
        {
            foreach (var socket in flood)
            {
                socket.Dispose();
            }
        }

        // Once the flood is gone every port serves again: HTTP, and a client through the gateway.
        await Wait.UntilAsync(async () =>
        {
            using var http = silo.Http();
            try
            {
                using var response = await http.GetAsync("/healthz");
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "/healthz answering after the flood");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.UseOrleansSessions(o =>
        {
            o.Gateways.Add("127.0.0.1:" + silo.GatewayPort.ToString(CultureInfo.InvariantCulture));
            o.ClusterId = "dev";
            o.ConnectTimeout = TimeSpan.FromSeconds(20);
        }));
        using var clientHost = builder.Build();
        await clientHost.StartAsync();
        var session = await clientHost.Services.GetRequiredService<IClusterClient>().GetGrain<IUserSessionsGrain>("after-flood").CreateSessionAsync();
        Assert.Equal("after-flood", session.UserId);
        await clientHost.StopAsync();
        Assert.False(silo.HasExited, silo.Output);
    }

    [Fact]
    public async Task Connections_that_are_not_Orleans_peers_do_not_flood_the_log()
    {
        await using var silo = await SiloProcess.StartAsync();
        var before = silo.Output.Split('\n').Length;
        var payloads = new[]
        {
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(),
            Enumerable.Range(0, 64).Select(i => (byte)(i * 37)).ToArray(),
            [0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3, 4],
            [],
        };
        const int PerPayload = 25;
        foreach (var port in new[] { silo.GatewayPort, silo.SiloPort })
        {
            foreach (var payload in payloads)
            {
                for (var i = 0; i < PerPayload; i++)
                {
                    using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync(IPAddress.Loopback, port);
                    await socket.SendAsync(payload);
                    socket.Shutdown(SocketShutdown.Send);
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    try
                    {
                        // Orleans closes a connection whose handshake fails.
                        while (await socket.ReceiveAsync(new byte[256], SocketFlags.None, timeout.Token) > 0)
                        {
                        }
                    }
                    catch (Exception ex) when (ex is SocketException or OperationCanceledException)
                    {
                    }
                }
            }
        }
        using var http = silo.Http();
        using var health = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var logged = silo.Output.Split('\n').Skip(before - 1).Where(l => l.Contains("warn:", StringComparison.Ordinal) || l.Contains("fail:", StringComparison.Ordinal)).ToList();
        // 200 failed handshakes: a line per connection would be 200 lines.
        Assert.True(logged.Count < 5, string.Join('\n', logged));
    }

    private static int CountLines(string output, string text) => output.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>Opens up to <paramref name="count"/> connections and keeps those the server has not closed.</summary>
    private static async Task OpenAsync(List<Socket> sockets, int port, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                // The kernel completes the handshake from the listen backlog even when the process cannot accept.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
                sockets.Add(socket);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                socket.Dispose();
            }
        }
    }
}
