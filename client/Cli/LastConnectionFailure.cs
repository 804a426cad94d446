using System.Runtime.ExceptionServices;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>
/// The last failure Orleans reported to the connection retry filter while the client was starting, so that a start cut
/// short by the connect timeout fails with what Orleans would have said (connection refused, wrong cluster id).
/// </summary>
internal sealed class LastConnectionFailure
{
    private readonly TaskCompletionSource _recorded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _exception;

    /// <summary>Completes when the first failure is recorded.</summary>
    public Task Recorded => _recorded.Task;

    /// <summary>Wraps the registered <see cref="IClientConnectionRetryFilter"/> of <paramref name="services"/> so that it records each failure it sees.</summary>
    public static LastConnectionFailure Track(IServiceCollection services)
    {
        var last = new LastConnectionFailure();
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(IClientConnectionRetryFilter));
        if (registered is not null)
        {
            services.Remove(registered);
        }
        services.AddSingleton<IClientConnectionRetryFilter>(sp => new RecordingFilter(registered is null ? null : Create(sp, registered), last));
        return last;
    }

    /// <summary>The last failure recorded, with its original stack, or null.</summary>
    public ExceptionDispatchInfo? Failure => Volatile.Read(ref _exception) is { } exception ? ExceptionDispatchInfo.Capture(exception) : null;

    private static IClientConnectionRetryFilter Create(IServiceProvider services, ServiceDescriptor descriptor)
        => (IClientConnectionRetryFilter)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));

    private sealed class RecordingFilter(IClientConnectionRetryFilter? inner, LastConnectionFailure last) : IClientConnectionRetryFilter
    {
        public Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
        {
            Volatile.Write(ref last._exception, exception);
            last._recorded.TrySetResult();
            return inner?.ShouldRetryConnectionAttempt(exception, cancellationToken) ?? Task.FromResult(false);
        }
    }
}
