using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Messaging;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.Runtime.Membership;

namespace OrleansSessions.Runtime.Messaging;

/// <summary>Outbound connections from this silo to the other silos, one per silo, opened on first use.</summary>
internal sealed class ConnectionManager : IAsyncDisposable
{
    private readonly ConcurrentDictionary<SiloAddress, OrderedSender> _connections = new();
    private readonly ConcurrentDictionary<MessageConnection, byte> _inbound = new();
    private volatile bool _draining;
    private readonly LocalSilo _local;
    private readonly MessagingOptions _messaging;
    private readonly SecurityOptions _security;
    private readonly ILogger _logger;
    private readonly Lazy<SiloMessageHandler> _handler;
    private volatile bool _stopped;

    public ConnectionManager(LocalSilo local, IOptions<MessagingOptions> messaging, IOptions<SecurityOptions> security, ILogger<ConnectionManager> logger, IServiceProvider services)
    {
        _local = local;
        _messaging = messaging.Value;
        _security = security.Value;
        _logger = logger;
        _handler = new Lazy<SiloMessageHandler>(() => (SiloMessageHandler)services.GetService(typeof(SiloMessageHandler))!);
    }

    /// <summary>Sends a message to a silo; messages to one silo go out in the order of these calls.</summary>
    public void Send(SiloAddress silo, OutgoingMessage message)
    {
        if (_stopped)
        {
            message.OnSendFailed(new SiloUnavailableException("This silo is stopping."));
            return;
        }
        _connections.GetOrAdd(silo, s => new OrderedSender(() => ConnectAsync(s))).Send(message);
    }

    /// <summary>The connection to a silo, opened if needed.</summary>
    public async ValueTask<MessageConnection> GetAsync(SiloAddress silo, CancellationToken cancellationToken = default)
    {
        if (_stopped)
        {
            throw new SiloUnavailableException("This silo is stopping.");
        }
        var sender = _connections.GetOrAdd(silo, s => new OrderedSender(() => ConnectAsync(s)));
        return await sender.EnsureConnectedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<MessageConnection> ConnectAsync(SiloAddress silo)
    {
        var (connection, _) = await MessageConnector.ConnectAsync(silo.Host, silo.Port, ConnectionRole.Silo, _local.ClusterId,
            _security.ApiToken, _local.Address.ToString(), _messaging, _logger, CancellationToken.None).ConfigureAwait(false);
        connection.PeerSilo = silo.ToString();
        _ = RunAsync(connection);
        return connection;
    }

    private async Task RunAsync(MessageConnection connection)
    {
        await Task.Yield();
        await connection.RunAsync(_handler.Value).ConfigureAwait(false);
    }

    /// <summary>Tracks an inbound connection so that stop can close it.</summary>
    public void AddInbound(MessageConnection connection)
    {
        _inbound[connection] = 0;
        if (_draining && connection.PeerSilo is null)
        {
            connection.Send(new SignalMessage(MessageKind.GoAway));
        }
    }

    public void RemoveInbound(MessageConnection connection) => _inbound.TryRemove(connection, out _);

    /// <summary>Inbound client connections (for event delivery).</summary>
    public IEnumerable<MessageConnection> Inbound => _inbound.Keys;

    /// <summary>Closes and forgets the connection to a silo that left.</summary>
    public void Drop(SiloAddress silo)
    {
        if (_connections.TryRemove(silo, out var sender))
        {
            _ = sender.CloseAsync();
        }
    }

    /// <summary>
    /// Graceful shutdown, first step: tells every connected client to send new calls to another gateway
    /// (<see cref="MessageKind.GoAway"/>); their connections stay open for the answers of calls already sent.
    /// Clients that connect from now on are told at once.
    /// </summary>
    public void DrainClients()
    {
        _draining = true;
        foreach (var connection in _inbound.Keys)
        {
            if (connection.PeerSilo is null)
            {
                connection.Send(new SignalMessage(MessageKind.GoAway));
            }
        }
    }

    /// <summary>Closes every connection at once (kill or the end of shutdown).</summary>
    public async Task CloseAllAsync()
    {
        _stopped = true;
        var closing = new List<Task>();
        foreach (var pair in _connections)
        {
            closing.Add(pair.Value.CloseAsync());
        }
        foreach (var connection in _inbound.Keys)
        {
            closing.Add(connection.CloseAsync());
        }
        _connections.Clear();
        await Task.WhenAll(closing).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await CloseAllAsync().ConfigureAwait(false);
}
