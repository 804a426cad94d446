namespace OrleansSessions.Messaging;

/// <summary>
/// Sends messages to one peer in the order they are handed over, also while the connection is still being
/// opened: messages that arrive before it is ready wait in a list that is flushed, in order, once it is.
/// (Awaiting the connect task in each sender would let the thread pool resume them in any order.)
/// </summary>
internal sealed class OrderedSender(Func<Task<MessageConnection>> connect)
{
    private readonly Lock _lock = new();
    private MessageConnection? _connection;
    private List<OutgoingMessage>? _pending;
    private bool _connecting;

    /// <summary>The open connection, if any.</summary>
    public MessageConnection? Connection
    {
        get
        {
            lock (_lock)
            {
                return _connection is { IsClosed: false } c ? c : null;
            }
        }
    }

    public void Send(OutgoingMessage message)
    {
        lock (_lock)
        {
            if (_connection is { IsClosed: false } connection && _pending is null)
            {
                message.OnSending(connection);
                connection.Send(message);
                return;
            }
            (_pending ??= []).Add(message);
            if (_connecting)
            {
                return;
            }
            _connecting = true;
        }
        _ = ConnectAndFlushAsync();
    }

    /// <summary>Opens the connection now if it is not open; completes when it is (or throws why it could not be).</summary>
    public async Task<MessageConnection> EnsureConnectedAsync()
    {
        var existing = Connection;
        if (existing is not null)
        {
            return existing;
        }
        var ready = new ConnectProbe();
        Send(ready);
        return await ready.Task.ConfigureAwait(false);
    }

    private async Task ConnectAndFlushAsync()
    {
        await Task.Yield();
        MessageConnection connection;
        try
        {
            connection = await connect().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            List<OutgoingMessage>? failed;
            lock (_lock)
            {
                failed = _pending;
                _pending = null;
                _connecting = false;
            }
            foreach (var message in failed ?? [])
            {
                message.OnSendFailed(ex);
            }
            return;
        }
        lock (_lock)
        {
            _connection = connection;
            foreach (var message in _pending ?? [])
            {
                message.OnSending(connection);
                connection.Send(message);
            }
            _pending = null;
            _connecting = false;
        }
    }

    /// <summary>
    /// Stops sending on <paramref name="connection"/> if it is the current one (its peer is going away): the next
    /// message opens a new connection. The old one is left open. Returns true when it was the current connection.
    /// </summary>
    public bool Detach(MessageConnection connection)
    {
        lock (_lock)
        {
            if (!ReferenceEquals(_connection, connection))
            {
                return false;
            }
            _connection = null;
            return true;
        }
    }

    /// <summary>Closes the current connection, if any.</summary>
    public Task CloseAsync()
    {
        MessageConnection? connection;
        lock (_lock)
        {
            connection = _connection;
            _connection = null;
        }
        return connection?.CloseAsync() ?? Task.CompletedTask;
    }

    /// <summary>A marker that completes when the connection is ready; it is never written.</summary>
    private sealed class ConnectProbe : OutgoingMessage
    {
        private readonly TaskCompletionSource<MessageConnection> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<MessageConnection> Task => _ready.Task;

        public override MessageKind Kind => MessageKind.Ping;

        public override bool IsLocalOnly => true;

        public override void OnSending(MessageConnection connection) => _ready.TrySetResult(connection);

        public override void WriteBody(ref Serialization.CodecWriter writer)
        {
        }

        public override void OnSendFailed(Exception exception) => _ready.TrySetException(exception);
    }
}
