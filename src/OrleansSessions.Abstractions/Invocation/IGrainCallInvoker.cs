namespace OrleansSessions.Invocation;

/// <summary>Sends requests from grain references: the client or the silo runtime.</summary>
public interface IGrainCallInvoker
{
    /// <summary>Invokes <paramref name="request"/> on the grain <paramref name="target"/> and returns its result or throws its exception.</summary>
    ValueTask<TResult> InvokeAsync<TResult>(GrainId target, GrainRequest<TResult> request);

    /// <summary>Sends a one-way request; returns once it is handed to the runtime.</summary>
    void InvokeOneWay(GrainId target, GrainRequest request);
}
