namespace OrleansSessions.Messaging;

/// <summary>A call waiting for its response.</summary>
internal interface IPendingCall
{
    /// <summary>Completes the call from a response frame's payload (valid only during the call).</summary>
    void OnResponse(ResponseStatus status, ReadOnlySpan<byte> payload);

    /// <summary>Fails the call.</summary>
    void Fail(Exception exception);

    /// <summary>The connection the request went out on, if any: its loss fails the call.</summary>
    MessageConnection? Connection { get; set; }
}
