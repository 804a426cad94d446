using OrleansSessions.Invocation;
using OrleansSessions.Serialization;

namespace OrleansSessions.Messaging;

/// <summary>A typed call waiting for its response; completes a task with the deserialized result or exception.</summary>
internal sealed class PendingCall<TResult> : TaskCompletionSource<TResult>, IPendingCall
{
    public PendingCall() : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
    }

    public void OnResponse(ResponseStatus status, ReadOnlySpan<byte> payload)
    {
        try
        {
            switch (status)
            {
                case ResponseStatus.Ok:
                    TrySetResult(GrainRequest<TResult>.ReadResult(payload));
                    break;
                case ResponseStatus.Exception:
                    TrySetException(CodecRegistry.Deserialize<Exception>(payload));
                    break;
                default:
                    TrySetException(new SiloUnavailableException(CodecRegistry.Deserialize<string>(payload) ?? "The request was rejected."));
                    break;
            }
        }
        catch (SerializationException ex)
        {
            TrySetException(ex);
        }
    }

    public void Fail(Exception exception) => TrySetException(exception);

    public MessageConnection? Connection { get; set; }
}
