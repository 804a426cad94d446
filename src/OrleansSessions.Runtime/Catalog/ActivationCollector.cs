using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Runtime.Hosting;

namespace OrleansSessions.Runtime.Catalog;

/// <summary>Deactivates activations that have been idle for the collection age, every collection quantum.</summary>
internal sealed partial class ActivationCollector(GrainCatalog catalog, IOptions<GrainCollectionOptions> options, ILogger<ActivationCollector> logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public void Start() => _loop = Task.Run(() => RunAsync(_stopping.Token));

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.CollectionQuantum);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await CollectAsync(options.Value.CollectionAge, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Deactivates every activation idle for at least <paramref name="age"/>; returns how many.</summary>
    public async Task<int> CollectAsync(TimeSpan age, CancellationToken cancellationToken, bool ignoreKeepAlive = false)
    {
        var now = catalog.IdleClockTicks();
        var reason = new DeactivationReason(DeactivationReasonCode.ActivationIdle, $"Idle for {age}.");
        var tasks = new List<Task>();
        foreach (var activation in catalog.All)
        {
            if (activation.IsInactiveFor(now, age.Ticks, ignoreKeepAlive))
            {
                tasks.Add(activation.DeactivateAsync(reason));
            }
        }
        if (tasks.Count > 0)
        {
            await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
            LogCollected(logger, tasks.Count);
        }
        return tasks.Count;
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 210, Level = LogLevel.Debug, Message = "Collected {Count} idle activations")]
    private static partial void LogCollected(ILogger logger, int count);
}
