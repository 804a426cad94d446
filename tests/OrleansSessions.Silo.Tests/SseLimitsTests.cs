using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// /api/events slots cannot be held by one caller: a subscriber whose sends stall is dropped after Sse:SendTimeout,
/// and one remote address holds at most Sse:MaxSubscribersPerAddress streams. Callers come from 127.0.0.1 and
/// 127.0.0.2 (both loopback) to be two addresses.
/// </summary>
public sealed class SseLimitsTests(SseLimitsTests.SseLimitsSiloFixture fixture) : IClassFixture<SseLimitsTests.SseLimitsSiloFixture>
{
    private static readonly IPAddress First = IPAddress.Loopback;
    private static readonly IPAddress Second = IPAddress.Parse("127.0.0.2");

    /// <summary>A silo with Sse:MaxSubscribers=2, Sse:MaxSubscribersPerAddress=1 and Sse:SendTimeout=2 s.</summary>
    public sealed class SseLimitsSiloFixture : IAsyncLifetime
    {
        internal SiloProcess Silo { get; private set; } = null!;

        public async Task InitializeAsync()
            => Silo = await SiloProcess.StartAsync("--Sse:MaxSubscribers=2", "--Sse:MaxSubscribersPerAddress=1", "--Sse:SendTimeout=00:00:02");

        public async Task DisposeAsync() => await Silo.DisposeAsync();
    }

    [Fact]
    public async Task Event_subscribers_beyond_Sse_MaxSubscribersPerAddress_from_one_address_get_503_with_Retry_After()
    {
        using (var first = await OpenEventsAsync(First))
        {
            Assert.StartsWith("HTTP/1.1 200", first.Head, StringComparison.Ordinal);
            using var again = await OpenEventsAsync(First);
            Assert.StartsWith("HTTP/1.1 503", again.Head, StringComparison.Ordinal);
            Assert.Contains("Retry-After:", again.Head, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("\"error\":\"too_many_subscribers\"", again.Head, StringComparison.Ordinal);
            Assert.Contains("Sse:MaxSubscribersPerAddress", again.Head, StringComparison.Ordinal);
            // Another address still gets a stream.
            using var other = await OpenEventsAsync(Second);
            Assert.StartsWith("HTTP/1.1 200", other.Head, StringComparison.Ordinal);
        }
        await Wait.UntilAsync(async () =>
        {
            using var next = await OpenEventsAsync(First);
            return next.Head.StartsWith("HTTP/1.1 200", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10), "a new subscriber from the first address accepted after its stream closed");
    }

    [Fact]
    public async Task A_subscriber_that_never_reads_is_dropped_while_events_flow_and_its_place_is_freed()
    {
        // Takes one of the two places and never reads past the headers, with a tiny receive window.
        using var stalled = await OpenEventsAsync(First, receiveBuffer: 1024);
        Assert.StartsWith("HTTP/1.1 200", stalled.Head, StringComparison.Ordinal);
        // Takes the other place from another address and reads everything.
        using var reader = await OpenEventsAsync(Second);
        Assert.StartsWith("HTTP/1.1 200", reader.Head, StringComparison.Ordinal);
        using var draining = new CancellationTokenSource();
        var drain = DrainAsync(reader.Socket, draining.Token);

        using var http = fixture.Silo.Http();
        var clock = Stopwatch.StartNew();
        var created = 0;
        var freed = false;
        while (!freed && clock.Elapsed < TimeSpan.FromSeconds(90))
        {
            // Events to send: every created session is one message to each subscriber.
            await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => CreateAsync(http, NewUser("sse"))));
            created += 50;
            using var probe = await OpenEventsAsync(First);
            freed = probe.Head.StartsWith("HTTP/1.1 200", StringComparison.Ordinal);
        }
        var readerStillOpen = !drain.IsCompleted;
        await draining.CancelAsync();
        await drain;
        Assert.True(freed, $"the stalled subscriber still holds its place after {created} events and {clock.Elapsed}");
        Assert.True(readerStillOpen, "the subscriber that reads was dropped too");
    }

    private static async Task DrainAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
        }
    }

    /// <summary>GET /api/events from <paramref name="local"/> on a raw socket; returns once the headers (and a 503's body) arrived.</summary>
    private async Task<RawStream> OpenEventsAsync(IPAddress local, int? receiveBuffer = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (receiveBuffer is { } size)
        {
            socket.ReceiveBufferSize = size;
        }
        socket.Bind(new IPEndPoint(local, 0));
        await socket.ConnectAsync(IPAddress.Loopback, fixture.Silo.HttpPort);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{fixture.Silo.HttpPort}\r\n\r\n"));
        var text = new StringBuilder();
        var buffer = new byte[512];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var head = text.ToString();
            if (head.Contains("\r\n\r\n", StringComparison.Ordinal) && (head.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) ? head.Contains(": connected", StringComparison.Ordinal) : head.Contains('}', StringComparison.Ordinal)))
            {
                return new RawStream(socket, head);
            }
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                return new RawStream(socket, head);
            }
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    private sealed class RawStream(Socket socket, string head) : IDisposable
    {
        public Socket Socket { get; } = socket;

        public string Head { get; } = head;

        public void Dispose() => Socket.Dispose();
    }
}
