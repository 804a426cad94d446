namespace OrleansSessions.Messaging;

/// <summary>Transport settings shared by silos and clients (configuration section "Messaging").</summary>
public sealed class MessagingOptions
{
    /// <summary>The largest frame accepted or sent (Messaging:MaxFrameBytes), 1 MiB by default.</summary>
    public int MaxFrameBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a caller waits for a response (Messaging:ResponseTimeout), 30 s by default.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Messages queued per connection before senders wait (backpressure).</summary>
    public int SendQueueCapacity { get; set; } = 65536;

    /// <summary>How long a connection may take to complete its handshake.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
