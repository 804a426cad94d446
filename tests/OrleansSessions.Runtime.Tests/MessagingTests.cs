using Microsoft.Extensions.DependencyInjection;
using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using OrleansSessions.Client;
using OrleansSessions.Invocation;
using OrleansSessions.Messaging;
using OrleansSessions.Serialization;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Runtime.Tests;

public sealed class MessagingTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public void Every_message_type_round_trips_through_the_wire_format()
    {
        var header = new RequestHeader
        {
            CorrelationId = 42,
            Target = new GrainId(7, "sess_key"),
            MethodInterfaceId = 9,
            MethodId = 3,
            Flags = InvokeFlags.AlwaysInterleave,
            CallChainId = long.MaxValue - 5,
            Hops = 1,
        };
        var headerReader = new CodecReader(Body(new RequestMessageProbe(header)));
        var read = RequestHeader.Read(ref headerReader);
        Assert.Equal(header.CorrelationId, read.CorrelationId);
        Assert.Equal(header.Target, read.Target);
        Assert.Equal(header.MethodInterfaceId, read.MethodInterfaceId);
        Assert.Equal(header.MethodId, read.MethodId);
        Assert.Equal(header.Flags, read.Flags);
        Assert.Equal(header.CallChainId, read.CallChainId);
        Assert.Equal(header.Hops, read.Hops);

        var ok = new ArrayBufferWriter<byte>();
        GrainRequest<string>.WriteResult("result", ok);
        var response = Body(new ResponseMessage(77, ResponseStatus.Ok, ok));
        var responseReader = new CodecReader(response);
        Assert.Equal(77UL, responseReader.ReadVarUInt64());
        Assert.Equal((byte)ResponseStatus.Ok, responseReader.ReadByte());
        Assert.Equal("result", GrainRequest<string>.ReadResult(response.AsSpan(responseReader.Position)));

        var failure = Body(ResponseMessage.FromException(5, new InvalidOperationException("boom")));
        var failureReader = new CodecReader(failure);
        failureReader.ReadVarUInt64();
        Assert.Equal((byte)ResponseStatus.Exception, failureReader.ReadByte());
        var exception = CodecRegistry.Deserialize<Exception>(failure.AsSpan(failureReader.Position));
        Assert.IsType<InvalidOperationException>(exception);
        Assert.Equal("boom", exception.Message);

        var rejected = Body(ResponseMessage.Rejected(6, "not here"));
        var rejectedReader = new CodecReader(rejected);
        rejectedReader.ReadVarUInt64();
        Assert.Equal((byte)ResponseStatus.Rejected, rejectedReader.ReadByte());
        Assert.Equal("not here", rejectedReader.ReadString());

        var evt = new CodecReader(Body(new EventMessage("topic", true, [1, 2, 3])));
        Assert.Equal("topic", evt.ReadString());
        Assert.True(evt.ReadBoolean());
        Assert.Equal(new byte[] { 1, 2, 3 }, evt.ReadBytes());

        var topic = new CodecReader(Body(new TopicMessage(MessageKind.Subscribe, "sessions")));
        Assert.Equal("sessions", topic.ReadString());

        var ping = new CodecReader(Body(new PingMessage(MessageKind.Ping, 99, "127.0.0.1:1@2")));
        Assert.Equal(99UL, ping.ReadVarUInt64());
        Assert.Equal("127.0.0.1:1@2", ping.ReadString());

        var hello = HandshakeInfo.Read(Body(new HandshakeMessage(ConnectionRole.Silo, "dev", "secret", "127.0.0.1:1@2")));
        Assert.Equal(new HandshakeInfo(ConnectionRole.Silo, "dev", "secret", "127.0.0.1:1@2"), hello);

        var ack = new CodecReader(Body(new HandshakeAckMessage(false, "no", "silo")));
        Assert.False(ack.ReadBoolean());
        Assert.Equal("no", ack.ReadString());
        Assert.Equal("silo", ack.ReadString());
    }

    [Fact]
    public async Task Random_bytes_and_oversized_frames_close_only_their_connection()
    {
        await using var cluster = await new TestClusterBuilder(1).ConfigureSilo(s => s.AddTestGrains())
            .AddConfiguration("Messaging:MaxFrameBytes", "65536").BuildAndStartAsync();
        var port = cluster.Primary.GatewayPort;
        var random = new Random(1234);

        for (var i = 0; i < 20; i++)
        {
            var garbage = new byte[random.Next(1, 4096)];
            random.NextBytes(garbage);
            Assert.True(await IsClosedByServerAsync(port, garbage));
        }

        // A valid length prefix announcing more than Messaging:MaxFrameBytes.
        var oversized = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(oversized, 10_000_000);
        oversized[4] = MessageConnection.ProtocolVersion;
        oversized[5] = (byte)MessageKind.Handshake;
        Assert.True(await IsClosedByServerAsync(port, oversized));

        // A wrong protocol version.
        var version = new byte[] { 2, 0, 0, 0, 99, (byte)MessageKind.Handshake };
        Assert.True(await IsClosedByServerAsync(port, version));

        // After a good handshake, a malformed request closes that connection too.
        var (connection, _) = await MessageConnector.ConnectAsync("127.0.0.1", port, ConnectionRole.Client, "testcluster", null, null,
            new MessagingOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        var run = connection.RunAsync(new NullHandler());
        connection.Send(new RawMessage(MessageKind.Request, [0xFF, 0xFF, 0xFF], 3));
        await run.WaitAsync(Deadline);
        Assert.True(connection.IsClosed);

        // Everyone else is still served.
        Assert.Equal(4, await cluster.Client.GetGrain<IFaultyGrain>("still-serving").EchoLengthAsync("four"));
    }

    [Fact]
    public async Task A_request_over_the_frame_limit_fails_with_a_typed_error_and_the_connection_survives()
    {
        await using var cluster = await new TestClusterBuilder(1).ConfigureSilo(s => s.AddTestGrains())
            .ConfigureClient(o => o.Messaging.MaxFrameBytes = 4096)
            .BuildAndStartAsync();
        var grain = cluster.Client.GetGrain<IFaultyGrain>("big");
        await Assert.ThrowsAsync<ProtocolViolationException>(() => grain.EchoLengthAsync(new string('x', 10_000)).WaitAsync(Deadline));
        Assert.Equal(3, await grain.EchoLengthAsync("abc"));
    }

    [Fact]
    public async Task With_an_api_token_clients_must_present_it()
    {
        await using var cluster = await new TestClusterBuilder(2).ConfigureSilo(s => s.AddTestGrains())
            .AddConfiguration("Security:ApiToken", "s3cret-token").BuildAndStartAsync();
        Assert.Equal(1, await cluster.Client.GetGrain<ICounterGrain>("token").IncrementAsync());

        var wrong = new ClientBuilder().UseGateways($"127.0.0.1:{cluster.Primary.GatewayPort}")
            .Configure(o => { o.ClusterId = "testcluster"; o.ApiToken = "wrong"; });
        var refused = await Assert.ThrowsAsync<SiloUnavailableException>(() => wrong.ConnectAsync());
        Assert.Contains("token", refused.Message, StringComparison.OrdinalIgnoreCase);

        var none = new ClientBuilder().UseGateways($"127.0.0.1:{cluster.Primary.GatewayPort}").Configure(o => o.ClusterId = "testcluster");
        await Assert.ThrowsAsync<SiloUnavailableException>(() => none.ConnectAsync());
    }

    [Fact]
    public async Task A_client_fails_over_to_another_gateway_when_its_silo_stops()
    {
        await using var cluster = await new TestClusterBuilder(2).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var client = (ClusterClient)cluster.Client;
        await cluster.Client.GetGrain<IStatefulGrain>("failover").SetAsync("kept");
        var gateway = cluster.Silos.Single(s => client.ConnectedGateway!.EndsWith(":" + s.GatewayPort, StringComparison.Ordinal));
        await cluster.KillSiloAsync(gateway);
        await cluster.WaitForViewAsync();
        await TestCluster.WaitUntilAsync(async () => await cluster.Client.GetGrain<IStatefulGrain>("failover").GetAsync() == "kept", Deadline);
        Assert.NotEqual($"127.0.0.1:{gateway.GatewayPort}", client.ConnectedGateway);
    }

    [Fact]
    public async Task A_client_told_to_go_away_sends_new_calls_to_another_gateway()
    {
        await using var cluster = await new TestClusterBuilder(2).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var client = (ClusterClient)cluster.Client;
        await cluster.Client.GetGrain<IStatefulGrain>("drain").SetAsync("kept");
        var gateway = cluster.Silos.Single(s => client.ConnectedGateway!.EndsWith(":" + s.GatewayPort, StringComparison.Ordinal));

        // What a graceful stop does first: the silo keeps serving, its clients move their new calls elsewhere.
        gateway.Services.GetRequiredService<OrleansSessions.Runtime.Messaging.ConnectionManager>().DrainClients();
        await TestCluster.WaitUntilAsync(() => Task.FromResult(client.ConnectedGateway != $"127.0.0.1:{gateway.GatewayPort}"), Deadline);
        Assert.Equal("kept", await cluster.Client.GetGrain<IStatefulGrain>("drain").GetAsync());
        Assert.NotNull(client.ConnectedGateway);
        Assert.NotEqual($"127.0.0.1:{gateway.GatewayPort}", client.ConnectedGateway);
    }

    [Fact]
    public async Task Calls_during_a_graceful_stop_of_the_clients_gateway_do_not_wait_for_the_web_server_timeout()
    {
        await using var cluster = await new TestClusterBuilder(2).ConfigureSilo(s => s.AddTestGrains()).BuildAndStartAsync();
        var client = (ClusterClient)cluster.Client;
        var keys = Enumerable.Range(0, 20).Select(i => $"stop-{i}").ToArray();
        await Task.WhenAll(keys.Select(k => cluster.Client.GetGrain<IStatefulGrain>(k).SetAsync(k)));
        var gateway = cluster.Silos.Single(s => client.ConnectedGateway!.EndsWith(":" + s.GatewayPort, StringComparison.Ordinal));

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        await cluster.StopSiloAsync(gateway);
        // Before, the stopped silo kept its client connections open (unserved) until the web server gave up after 30 s.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(15), $"graceful stop took {stopwatch.Elapsed}");
        foreach (var key in keys)
        {
            Assert.Equal(key, await cluster.Client.GetGrain<IStatefulGrain>(key).GetAsync());
        }
        Assert.NotEqual($"127.0.0.1:{gateway.GatewayPort}", client.ConnectedGateway);
    }

    [Fact]
    public async Task A_client_with_no_reachable_gateway_gets_a_typed_error()
    {
        var client = new ClientBuilder().UseGateways("127.0.0.1:1").Configure(o => o.ConnectTimeout = TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAsync<SiloUnavailableException>(() => client.ConnectAsync());
        Assert.Throws<FormatException>(() => new ClientBuilder().UseGateways("no-port"));
    }

    [Fact]
    public async Task A_full_send_queue_makes_senders_wait_until_the_peer_reads()
    {
        // The peer reads nothing at first: the pipe fills (pause threshold), the writer loop stops, the queue grows.
        var toPeer = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 4096, resumeWriterThreshold: 2048));
        var fromPeer = new System.IO.Pipelines.Pipe();
        var options = new MessagingOptions { SendQueueCapacity = 8 };
        var connection = new MessageConnection(new DuplexPipe(fromPeer.Reader, toPeer.Writer), options,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, "test");
        var run = connection.RunAsync(new NullHandler());
        var payload = new byte[1000];
        ValueTask blocked = default;
        var sent = 0;
        for (; sent < 1000; sent++)
        {
            blocked = connection.SendAsync(new RawMessage(MessageKind.Event, payload, payload.Length));
            if (!blocked.IsCompleted)
            {
                break;
            }
        }
        Assert.False(blocked.IsCompleted, "a sender must wait once the queue is over capacity");
        Assert.InRange(sent, options.SendQueueCapacity, 100);

        // The peer starts reading: the queue drains and the waiting sender continues.
        var drain = Task.Run(async () =>
        {
            while (true)
            {
                var result = await toPeer.Reader.ReadAsync();
                toPeer.Reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        });
        await blocked.AsTask().WaitAsync(Deadline);
        await connection.CloseAsync();
        await run.WaitAsync(Deadline);
    }

    [Fact]
    public async Task Answers_written_on_the_receive_loop_and_messages_queued_by_other_threads_all_arrive_in_their_order()
    {
        var toPeer = new System.IO.Pipelines.Pipe();
        var fromPeer = new System.IO.Pipelines.Pipe();
        var connection = new MessageConnection(new DuplexPipe(fromPeer.Reader, toPeer.Writer), new MessagingOptions(),
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, "test");
        // Each Ping is answered on the receive loop (the inline path); Events come from another thread (the queue).
        var run = connection.RunAsync(new EchoHandler());
        const int pings = 2000;
        const int events = 2000;
        var background = Task.Run(() =>
        {
            for (var i = 0; i < events; i++)
            {
                var body = new byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(body, i);
                connection.Send(new RawMessage(MessageKind.Event, body, 4));
            }
        });
        for (var i = 0; i < pings; i++)
        {
            var frame = new byte[6 + 4];
            BinaryPrimitives.WriteUInt32LittleEndian(frame, 6);
            frame[4] = MessageConnection.ProtocolVersion;
            frame[5] = (byte)MessageKind.Ping;
            BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(6), i);
            await fromPeer.Writer.WriteAsync(frame);
        }
        await background;

        var nextPong = 0;
        var nextEvent = 0;
        while (nextPong < pings || nextEvent < events)
        {
            var result = await toPeer.Reader.ReadAsync().AsTask().WaitAsync(Deadline);
            var buffer = result.Buffer;
            while (buffer.Length >= 4)
            {
                var header = new byte[4];
                buffer.Slice(0, 4).CopyTo(header);
                var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(header);
                if (buffer.Length < 4 + length)
                {
                    break;
                }
                var frame = buffer.Slice(4, length).ToArray();
                var index = BinaryPrimitives.ReadInt32LittleEndian(frame.AsSpan(2));
                if ((MessageKind)frame[1] == MessageKind.Pong)
                {
                    Assert.Equal(nextPong++, index);
                }
                else
                {
                    Assert.Equal(MessageKind.Event, (MessageKind)frame[1]);
                    Assert.Equal(nextEvent++, index);
                }
                buffer = buffer.Slice(4 + length);
            }
            toPeer.Reader.AdvanceTo(buffer.Start, buffer.End);
        }
        await connection.CloseAsync();
        await run.WaitAsync(Deadline);
    }

    private sealed class EchoHandler : IMessageHandler
    {
        public void OnFrame(MessageConnection connection, MessageKind kind, ReadOnlySpan<byte> payload)
            => connection.Send(new RawMessage(MessageKind.Pong, payload.ToArray(), payload.Length));

        public void OnClosed(MessageConnection connection, Exception? error)
        {
        }
    }

    private sealed class DuplexPipe(System.IO.Pipelines.PipeReader input, System.IO.Pipelines.PipeWriter output) : System.IO.Pipelines.IDuplexPipe
    {
        public System.IO.Pipelines.PipeReader Input { get; } = input;

        public System.IO.Pipelines.PipeWriter Output { get; } = output;
    }

    private static async Task<bool> IsClosedByServerAsync(int port, byte[] payload)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", port);
        try
        {
            await socket.SendAsync(payload);
        }
        catch (SocketException)
        {
            return true;
        }
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(Deadline);
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static byte[] Body(OutgoingMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new CodecWriter(buffer);
        message.WriteBody(ref writer);
        writer.Commit();
        return buffer.WrittenSpan.ToArray();
    }

    private sealed class RequestMessageProbe(RequestHeader header) : OutgoingMessage
    {
        public override MessageKind Kind => MessageKind.Request;

        public override void WriteBody(ref CodecWriter writer) => header.Write(ref writer);
    }

    private sealed class NullHandler : IMessageHandler
    {
        public void OnFrame(MessageConnection connection, MessageKind kind, ReadOnlySpan<byte> payload)
        {
        }

        public void OnClosed(MessageConnection connection, Exception? error)
        {
        }
    }
}
