namespace OrleansSessions.Messaging;

/// <summary>The kind of a frame on a silo or gateway connection.</summary>
internal enum MessageKind : byte
{
    Handshake = 1,
    HandshakeAck = 2,
    Request = 3,
    Response = 4,
    Event = 5,
    Subscribe = 6,
    Unsubscribe = 7,
    Ping = 8,
    Pong = 9,

    /// <summary>Silo to client: this gateway is shutting down; send new calls elsewhere (answers still come here).</summary>
    GoAway = 10,
}

/// <summary>The outcome carried by a response frame.</summary>
internal enum ResponseStatus : byte
{
    Ok = 0,
    Exception = 1,
    /// <summary>The receiver could not process the request (shutting down, not the owner); the caller may retry elsewhere.</summary>
    Rejected = 2,
}
