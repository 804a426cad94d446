using StackExchange.Redis;

namespace OrleansSessions.Redis;

/// <summary>
/// The one <see cref="IConnectionMultiplexer"/> of a silo, shared by Orleans' Redis providers, the deadline index and the event log.
/// Connected once (the first caller waits; a failed attempt is retried by the next caller); StackExchange.Redis
/// reconnects by itself afterwards. Disposed with the silo's service provider.
/// </summary>
internal sealed class RedisConnection(ConfigurationOptions options) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private Task<IConnectionMultiplexer>? _connecting;

    /// <summary>The parsed configuration (Orleans' Redis providers require it set, though they use the shared connection).</summary>
    public ConfigurationOptions Options { get; } = options;

    /// <summary>The endpoints, for messages.</summary>
    public string Endpoints { get; } = RedisEndpoint.Describe(options);

    /// <summary>The connected multiplexer; throws <see cref="RedisUnavailableException"/> when the first connect fails.</summary>
    public Task<IConnectionMultiplexer> GetAsync()
    {
        lock (_gate)
        {
            if (_connecting is null || _connecting.IsFaulted || _connecting.IsCanceled)
            {
                _connecting = ConnectAsync();
            }
            return _connecting;
        }
    }

    private async Task<IConnectionMultiplexer> ConnectAsync()
    {
        var connect = Options.Clone();
        // Fail the first connect instead of returning a multiplexer that is still trying: the silo must not start
        // without its storage. Once connected, StackExchange.Redis reconnects whatever this flag says.
        connect.AbortOnConnectFail = true;
        try
        {
            return await ConnectionMultiplexer.ConnectAsync(connect).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException or System.Net.Sockets.SocketException)
        {
            throw RedisUnavailableException.For(Endpoints, exception);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task<IConnectionMultiplexer>? connecting;
        lock (_gate)
        {
            connecting = _connecting;
            _connecting = null;
        }
        if (connecting is { IsCompletedSuccessfully: true })
        {
            await connecting.Result.DisposeAsync().ConfigureAwait(false);
        }
    }
}
