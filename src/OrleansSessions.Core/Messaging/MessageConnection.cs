using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansSessions.Serialization;

namespace OrleansSessions.Messaging;

/// <summary>
/// One persistent, multiplexed connection. Frames are [length: 4 bytes LE][version: 1][kind: 1][body];
/// length counts everything after itself. A receive loop parses frames and hands them to the handler;
/// a writer loop drains the send queue, serializing and flushing in batches. A malformed or oversized
/// frame closes this connection only.
/// </summary>
internal sealed partial class MessageConnection
{
    public const byte ProtocolVersion = 1;
    private const int PrefixLength = 6;

    private readonly IDuplexPipe _transport;
    private readonly MessagingOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<OutgoingMessage> _sendQueue;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IMessageHandler? _handler;
    private int _closeStarted;

    public MessageConnection(IDuplexPipe transport, MessagingOptions options, ILogger logger, string remoteEndPoint)
    {
        _transport = transport;
        _options = options;
        _logger = logger;
        RemoteEndPoint = remoteEndPoint;
        // A single-consumer unbounded channel takes no lock per message; the capacity is enforced by counting
        // (see SendAsync and the receive loop), which keeps messages in the order they were sent.
        _sendQueue = Channel.CreateUnbounded<OutgoingMessage>(new UnboundedChannelOptions { SingleReader = true });
    }

    private int _queued;
    private int _waitingForSpace;
    private readonly SemaphoreSlim _space = new(0, int.MaxValue);

    // Whoever writes to the transport's PipeWriter holds this: the writer loop, or the receive loop writing the
    // answers its own frames produced (see SendAsync).
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    // The connection whose receive loop runs on this thread, while it dispatches the frames of one read.
    [ThreadStatic]
    private static MessageConnection? t_receiving;

    // Receive loop only: it holds the write gate and has written frames that are not flushed yet.
    private bool _holdsWriteGate;
    private ArrayBufferWriter<byte>? _inlineScratch;

    public string RemoteEndPoint { get; }

    /// <summary>Per-connection state of the message handler (created once, on the receive loop).</summary>
    public object? HandlerState { get; set; }

    /// <summary>Set by the handshake: the peer's silo address, or null for a client.</summary>
    public string? PeerSilo { get; set; }

    public bool IsClosed => Volatile.Read(ref _closeStarted) != 0;

    public Task Closed => _closed.Task;

    /// <summary>
    /// Queues a message (always, in order) and completes once the send queue is below
    /// <see cref="MessagingOptions.SendQueueCapacity"/> again: callers that await it get backpressure.
    /// </summary>
    public ValueTask SendAsync(OutgoingMessage message)
    {
        if (message.IsLocalOnly)
        {
            return ValueTask.CompletedTask;
        }
        if (IsClosed)
        {
            message.OnSendFailed(new SiloUnavailableException($"Connection to {RemoteEndPoint} is closed."));
            return ValueTask.CompletedTask;
        }
        if (ReferenceEquals(t_receiving, this) && TryWriteInline(message))
        {
            return ValueTask.CompletedTask;
        }
        Interlocked.Increment(ref _queued);
        if (!_sendQueue.Writer.TryWrite(message))
        {
            Interlocked.Decrement(ref _queued);
            message.OnSendFailed(new SiloUnavailableException($"Connection to {RemoteEndPoint} is closed."));
            return ValueTask.CompletedTask;
        }
        return Volatile.Read(ref _queued) > _options.SendQueueCapacity ? WaitForSpaceAsync() : ValueTask.CompletedTask;
    }

    /// <summary>
    /// On the receive loop, a message produced while its frames are dispatched (the answer of a turn that completed
    /// at once, a pong) is written straight into the pipe, and the loop flushes once after the read: no hop to the
    /// writer loop. Only when nothing is queued (so it cannot overtake an earlier message) and the writer loop is
    /// not writing; otherwise the message is queued as usual.
    /// </summary>
    private bool TryWriteInline(OutgoingMessage message)
    {
        if (Volatile.Read(ref _queued) != 0)
        {
            return false;
        }
        if (!_holdsWriteGate)
        {
            if (!_writeGate.Wait(0))
            {
                return false;
            }
            _holdsWriteGate = true;
        }
        try
        {
            WriteFrame(message, _inlineScratch ??= new ArrayBufferWriter<byte>(1024), _transport.Output);
        }
        catch (Exception ex) when (ex is SerializationException or ProtocolViolationException)
        {
            message.OnSendFailed(ex);
        }
        catch (InvalidOperationException ex)
        {
            // The pipe was completed: the connection is closing.
            message.OnSendFailed(new SiloUnavailableException($"Connection to {RemoteEndPoint} is closed.", ex));
        }
        return true;
    }

    /// <summary>Receive loop, after the frames of one read: flushes what it wrote inline and lets the writer loop write again.</summary>
    private async ValueTask FlushInlineAsync()
    {
        _holdsWriteGate = false;
        try
        {
            var flush = _transport.Output.FlushAsync(_closing.Token);
            if (!flush.IsCompletedSuccessfully)
            {
                await flush.ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or IOException)
        {
            // Closing: the frames written are lost with the connection, as queued ones are.
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Queues a message without waiting.</summary>
    public void Send(OutgoingMessage message)
    {
        var pending = SendAsync(message);
        if (!pending.IsCompleted)
        {
            _ = pending.AsTask();
        }
    }

    private async ValueTask WaitForSpaceAsync()
    {
        Interlocked.Increment(ref _waitingForSpace);
        try
        {
            while (Volatile.Read(ref _queued) > _options.SendQueueCapacity && !_closing.IsCancellationRequested)
            {
                // The timeout only guards against a missed wake-up; the writer releases waiters as the queue drains.
                await _space.WaitAsync(TimeSpan.FromMilliseconds(50), _closing.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _waitingForSpace);
        }
    }

    /// <summary>Runs the receive and writer loops until the connection closes.</summary>
    public async Task RunAsync(IMessageHandler handler)
    {
        _handler = handler;
        var writer = Task.Run(WriteLoopAsync);
        Exception? error = null;
        try
        {
            await ReceiveLoopAsync(handler).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            error = ex;
        }
        await CloseAsync(error).ConfigureAwait(false);
        await writer.ConfigureAwait(false);
    }

    /// <summary>Reads exactly one frame (used for the handshake before the loops start).</summary>
    public async Task<(MessageKind Kind, byte[] Payload)> ReadSingleFrameAsync(CancellationToken cancellationToken)
    {
        var reader = _transport.Input;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryReadFrame(ref buffer, out var kind, out var payload, out var rented))
            {
                var copy = payload.ToArray();
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
                reader.AdvanceTo(buffer.Start);
                return (kind, copy);
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                throw new ProtocolViolationException("Connection closed before a complete frame arrived.");
            }
        }
    }

    /// <summary>Writes one message immediately (used for the handshake before the loops start).</summary>
    public async Task WriteSingleAsync(OutgoingMessage message, CancellationToken cancellationToken)
    {
        var scratch = new ArrayBufferWriter<byte>(256);
        WriteFrame(message, scratch, _transport.Output);
        await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task ReceiveLoopAsync(IMessageHandler handler)
    {
        var reader = _transport.Input;
        while (!_closing.IsCancellationRequested)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(_closing.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var buffer = result.Buffer;
            t_receiving = this;
            try
            {
                while (TryReadFrame(ref buffer, out var kind, out var payload, out var rented))
                {
                    try
                    {
                        handler.OnFrame(this, kind, payload);
                    }
                    catch (SerializationException ex)
                    {
                        throw new ProtocolViolationException($"Malformed {kind} frame: {ex.Message}", ex);
                    }
                    finally
                    {
                        if (rented is not null)
                        {
                            ArrayPool<byte>.Shared.Return(rented);
                        }
                    }
                }
            }
            finally
            {
                t_receiving = null;
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (_holdsWriteGate)
                {
                    await FlushInlineAsync().ConfigureAwait(false);
                }
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                break;
            }
            if (Volatile.Read(ref _queued) > _options.SendQueueCapacity)
            {
                // The peer sends faster than it reads our answers: stop reading until the send queue drains.
                await WaitForSpaceAsync().ConfigureAwait(false);
            }
        }
    }

    private bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out MessageKind kind, out ReadOnlySpan<byte> payload, out byte[]? rented)
    {
        kind = default;
        payload = default;
        rented = null;
        if (buffer.Length < 4)
        {
            return false;
        }
        Span<byte> lengthBytes = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(lengthBytes);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(lengthBytes);
        if (length < 2 || length > (uint)_options.MaxFrameBytes)
        {
            throw new ProtocolViolationException($"Frame length {length} is outside 2..{_options.MaxFrameBytes}.");
        }
        if (buffer.Length < 4 + length)
        {
            return false;
        }
        var frame = buffer.Slice(4, length);
        ReadOnlySpan<byte> span;
        if (frame.IsSingleSegment)
        {
            span = frame.FirstSpan;
        }
        else
        {
            rented = ArrayPool<byte>.Shared.Rent((int)length);
            frame.CopyTo(rented);
            span = rented.AsSpan(0, (int)length);
        }
        if (span[0] != ProtocolVersion)
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
            throw new ProtocolViolationException($"Unsupported protocol version {span[0]}.");
        }
        kind = (MessageKind)span[1];
        if (kind is < MessageKind.Handshake or > MessageKind.GoAway)
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
            throw new ProtocolViolationException($"Unknown frame kind {span[1]}.");
        }
        payload = span.Slice(2);
        buffer = buffer.Slice(4 + length);
        return true;
    }

    private async Task WriteLoopAsync()
    {
        var output = _transport.Output;
        var scratch = new ArrayBufferWriter<byte>(4096);
        var reader = _sendQueue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_closing.Token).ConfigureAwait(false))
            {
                await _writeGate.WaitAsync(_closing.Token).ConfigureAwait(false);
                var written = 0;
                FlushResult flush;
                try
                {
                    while (written < 1024 && reader.TryRead(out var message))
                    {
                        Interlocked.Decrement(ref _queued);
                        try
                        {
                            WriteFrame(message, scratch, output);
                        }
                        catch (Exception ex) when (ex is SerializationException or ProtocolViolationException)
                        {
                            message.OnSendFailed(ex);
                        }
                        written++;
                    }
                    if (Volatile.Read(ref _waitingForSpace) > 0 && Volatile.Read(ref _queued) <= _options.SendQueueCapacity / 2)
                    {
                        _space.Release(Volatile.Read(ref _waitingForSpace));
                    }
                    flush = await output.FlushAsync(_closing.Token).ConfigureAwait(false);
                }
                finally
                {
                    _writeGate.Release();
                }
                if (flush.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            await CloseAsync(ex).ConfigureAwait(false);
        }
        while (reader.TryRead(out var message))
        {
            message.OnSendFailed(new SiloUnavailableException($"Connection to {RemoteEndPoint} is closed."));
        }
    }

    private void WriteFrame(OutgoingMessage message, ArrayBufferWriter<byte> scratch, PipeWriter output)
    {
        scratch.ResetWrittenCount();
        var writer = new CodecWriter(scratch);
        message.WriteBody(ref writer);
        writer.Commit();
        var bodyLength = scratch.WrittenCount;
        if (bodyLength + 2 > _options.MaxFrameBytes)
        {
            throw new ProtocolViolationException($"{message.Kind} message of {bodyLength} bytes exceeds Messaging:MaxFrameBytes ({_options.MaxFrameBytes}).");
        }
        var span = output.GetSpan(PrefixLength + bodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)(bodyLength + 2));
        span[4] = ProtocolVersion;
        span[5] = (byte)message.Kind;
        scratch.WrittenSpan.CopyTo(span.Slice(PrefixLength));
        output.Advance(PrefixLength + bodyLength);
        if (scratch.Capacity > 1 << 20)
        {
            scratch.Clear();
        }
    }

    /// <summary>Closes the connection; pending sends fail and the handler's OnClosed runs once.</summary>
    public async Task CloseAsync(Exception? error = null)
    {
        if (Interlocked.Exchange(ref _closeStarted, 1) != 0)
        {
            await _closed.Task.ConfigureAwait(false);
            return;
        }
        if (error is not null and not OperationCanceledException)
        {
            LogConnectionClosed(_logger, RemoteEndPoint, error.Message);
        }
        _sendQueue.Writer.TryComplete();
        await _closing.CancelAsync().ConfigureAwait(false);
        try
        {
            await _transport.Input.CompleteAsync().ConfigureAwait(false);
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The transport is already gone.
        }
        try
        {
            _handler?.OnClosed(this, error);
        }
        finally
        {
            _closed.TrySetResult();
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Connection {RemoteEndPoint} closed: {Reason}")]
    private static partial void LogConnectionClosed(ILogger logger, string remoteEndPoint, string reason);
}
