namespace OrleansSessions.Invocation;

/// <summary>Base class of generated grain proxies: a grain identity plus the invoker that sends its calls.</summary>
public abstract class GrainReference : IEquatable<GrainReference>
{
    private readonly IGrainCallInvoker _invoker;

    /// <summary>Creates a reference.</summary>
    protected GrainReference(GrainId grainId, IGrainCallInvoker invoker)
    {
        GrainId = grainId;
        _invoker = invoker;
    }

    /// <summary>The grain this reference points to.</summary>
    public GrainId GrainId { get; }

    /// <summary>Sends a request and awaits its result.</summary>
    protected ValueTask<TResult> InvokeAsync<TResult>(GrainRequest<TResult> request) => _invoker.InvokeAsync(GrainId, request);

    /// <summary>Sends a one-way request.</summary>
    protected void InvokeOneWay(GrainRequest request) => _invoker.InvokeOneWay(GrainId, request);

    /// <inheritdoc />
    public bool Equals(GrainReference? other) => other is not null && GrainId.Equals(other.GrainId);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as GrainReference);

    /// <inheritdoc />
    public override int GetHashCode() => GrainId.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => GrainId.ToString();
}
