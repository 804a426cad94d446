using System.Buffers;
using OrleansSessions.Invocation;
using OrleansSessions.Messaging;
using OrleansSessions.Runtime.Timers;

namespace OrleansSessions.Runtime.Catalog;

internal sealed class ActivateWorkItem : WorkItem
{
    public override ValueTask ExecuteAsync(ActivationData activation) => activation.ActivateAsync();

    public override void Reject(ActivationData activation)
    {
    }

    public override void Fail(Exception exception)
    {
    }
}

internal sealed class DeactivateWorkItem(DeactivationReason reason) : WorkItem
{
    public override ValueTask ExecuteAsync(ActivationData activation) => activation.RunDeactivationAsync(reason);

    public override void Reject(ActivationData activation)
    {
    }

    public override void Fail(Exception exception)
    {
    }
}

internal sealed class NoOpWorkItem : WorkItem
{
    public static readonly NoOpWorkItem Instance = new();

    public override ValueTask ExecuteAsync(ActivationData activation) => ValueTask.CompletedTask;

    public override void Reject(ActivationData activation)
    {
    }

    public override void Fail(Exception exception)
    {
    }
}

/// <summary>A call from this silo (a grain or the hosted client) to a local activation.</summary>
internal sealed class LocalCallWorkItem<TResult>(GrainId target, GrainRequest<TResult> request, SiloRuntimeClient client) : WorkItem, IPendingCall
{
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long CallbackId { get; set; }

    public MessageConnection? Connection { get; set; }

    public Task<TResult> Task => _completion.Task;

    public override bool AlwaysInterleave => (request.Flags & InvokeFlags.AlwaysInterleave) != 0;

    public override async ValueTask ExecuteAsync(ActivationData activation)
    {
        if (_completion.Task.IsCompleted)
        {
            return; // timed out while queued
        }
        try
        {
            var result = await request.InvokeAsync(activation.Instance!).ConfigureAwait(false);
            Complete(result);
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    private void Complete(TResult result)
    {
        client.Callbacks.Remove(CallbackId);
        _completion.TrySetResult(result);
    }

    public override void Reject(ActivationData activation)
    {
        client.Callbacks.Remove(CallbackId);
        var rerouted = client.InvokeAsync(target, request, ChainId);
        if (rerouted.IsCompleted)
        {
            try
            {
                _completion.TrySetResult(rerouted.GetAwaiter().GetResult());
            }
            catch (Exception ex)
            {
                _completion.TrySetException(ex);
            }
            return;
        }
        _ = Forward(rerouted);
    }

    private async Task Forward(ValueTask<TResult> rerouted)
    {
        try
        {
            _completion.TrySetResult(await rerouted.ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            _completion.TrySetException(ex);
        }
    }

    public override void Fail(Exception exception)
    {
        client.Callbacks.Remove(CallbackId);
        _completion.TrySetException(exception);
    }

    void IPendingCall.OnResponse(ResponseStatus status, ReadOnlySpan<byte> payload)
    {
    }
}

/// <summary>A one-way call to a local activation.</summary>
internal sealed class OneWayWorkItem(GrainId target, GrainRequest request, SiloRuntimeClient client) : WorkItem
{
    public override bool AlwaysInterleave => (request.Flags & InvokeFlags.AlwaysInterleave) != 0;

    public override async ValueTask ExecuteAsync(ActivationData activation)
        => await request.InvokeAndWriteResultAsync(activation.Instance!, NullBufferWriter.Instance).ConfigureAwait(false);

    public override void Reject(ActivationData activation) => client.InvokeOneWay(target, request);

    public override void Fail(Exception exception)
    {
    }
}

/// <summary>A request that arrived over a connection; its result is serialized and sent back.</summary>
internal sealed class RemoteCallWorkItem(RequestHeader header, GrainRequest request, IResponder? responder, SiloRuntimeClient client) : WorkItem
{
    public override bool AlwaysInterleave => (request.Flags & InvokeFlags.AlwaysInterleave) != 0;

    public override async ValueTask ExecuteAsync(ActivationData activation)
    {
        if (responder is null)
        {
            await request.InvokeAndWriteResultAsync(activation.Instance!, NullBufferWriter.Instance).ConfigureAwait(false);
            return;
        }
        var response = new PooledResponseMessage(header.CorrelationId);
        try
        {
            await request.InvokeAndWriteResultAsync(activation.Instance!, response).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            response.Release();
            responder.Respond(ResponseMessage.FromException(header.CorrelationId, ex));
            return;
        }
        responder.Respond(response);
    }

    public override void Reject(ActivationData activation) => client.InvokeForResponder(header, request, responder);

    public override void Fail(Exception exception) => responder?.Respond(ResponseMessage.FromException(header.CorrelationId, exception));
}

/// <summary>A grain timer tick.</summary>
internal sealed class TimerTickWorkItem(GrainTimer timer, long version) : WorkItem
{
    public override bool AlwaysInterleave => timer.Interleave;

    public override ValueTask ExecuteAsync(ActivationData activation) => timer.RunTickAsync(version);

    public override void Reject(ActivationData activation)
    {
    }

    public override void Fail(Exception exception)
    {
    }
}

/// <summary>Sends a response back to where a request came from.</summary>
internal interface IResponder
{
    void Respond(OutgoingMessage response);
}

/// <summary>Discards what is written (results of one-way calls).</summary>
internal sealed class NullBufferWriter : IBufferWriter<byte>
{
    public static readonly NullBufferWriter Instance = new();
    [ThreadStatic]
    private static byte[]? t_scratch;

    public void Advance(int count)
    {
    }

    public Memory<byte> GetMemory(int sizeHint = 0) => Scratch(sizeHint);

    public Span<byte> GetSpan(int sizeHint = 0) => Scratch(sizeHint);

    private static byte[] Scratch(int sizeHint)
    {
        var size = Math.Max(sizeHint, 256);
        if (t_scratch is null || t_scratch.Length < size)
        {
            t_scratch = new byte[size];
        }
        return t_scratch;
    }
}
