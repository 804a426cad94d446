namespace OrleansSessions.ClientApp.Cli;

/// <summary>
/// The client's connection to the cluster as Orleans reports it (<see cref="IClusterConnectionStatusObserver"/>): lost
/// when no gateway connection is left, recovered when one opens again. Orleans opens a connection only to send a
/// message, so a client that makes no calls stays lost.
/// </summary>
internal sealed class ClusterConnectionStatus : IClusterConnectionStatusObserver
{
    private readonly Lock _gate = new();
    private TaskCompletionSource _lost = NewSignal();

    /// <summary>Completes when the connection is lost; a new one is handed out after each recovery.</summary>
    public Task Lost
    {
        get
        {
            lock (_gate)
            {
                return _lost.Task;
            }
        }
    }

    public void NotifyClusterConnectionLost()
    {
        lock (_gate)
        {
            _lost.TrySetResult();
        }
    }

    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (!connectionRecovered)
        {
            return;
        }
        lock (_gate)
        {
            if (_lost.Task.IsCompleted)
            {
                _lost = NewSignal();
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
