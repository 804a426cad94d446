using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// Bounds the warnings that arrive once per connection from outside, so that a flood of bad connections (plaintext or
/// random bytes on a TLS port, certificates of another CA, port scanners) cannot flood the log: per category, at most
/// <see cref="PerWindow"/> messages at Warning or above are written per <see cref="Window"/>; the next one written
/// after a window in which some were dropped says how many. Applied by wrapping the host's logger providers, for the
/// categories in <see cref="Categories"/> only; every other log line is untouched.
/// </summary>
internal sealed partial class ConnectionLogRateLimit(TimeProvider time)
{
    /// <summary>Where per-connection warnings come from: Orleans' connection handling, its TLS middleware and the silo's certificate check.</summary>
    public static readonly string[] Categories = ["Orleans.Runtime.Messaging", "Orleans.Connections.Security", "OrleansSessions.SiloHost.Hosting.SiloTls"];

    public const int PerWindow = 5;

    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, CategoryWindow> _windows = new(StringComparer.Ordinal);

    /// <summary>Wraps every logger provider registered so far.</summary>
    public static void AddTo(ILoggingBuilder logging)
    {
        var services = logging.Services;
        services.AddSingleton(sp => new ConnectionLogRateLimit(TimeProvider.System));
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(ILoggerProvider) || descriptor.IsKeyedService)
            {
                continue;
            }
            services[i] = ServiceDescriptor.Singleton<ILoggerProvider>(sp =>
                new Provider(CreateInner(sp, descriptor), sp.GetRequiredService<ConnectionLogRateLimit>()));
        }
    }

    public static bool Applies(string category)
        => Array.Exists(Categories, prefix => category.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Whether a message of <paramref name="category"/> may be written now; <paramref name="dropped"/> is how many were dropped since the last one written.</summary>
    public bool TryTake(string category, out long dropped)
    {
        var window = _windows.GetOrAdd(category, static _ => new CategoryWindow());
        var now = time.GetTimestamp();
        lock (window)
        {
            if (window.Count == 0 || time.GetElapsedTime(window.Start, now) >= Window)
            {
                window.Start = now;
                window.Count = 0;
            }
            if (window.Count >= PerWindow)
            {
                window.Dropped++;
                dropped = 0;
                return false;
            }
            window.Count++;
            dropped = window.Dropped;
            window.Dropped = 0;
            return true;
        }
    }

    private static ILoggerProvider CreateInner(IServiceProvider services, ServiceDescriptor descriptor)
    {
        if (descriptor.ImplementationInstance is ILoggerProvider instance)
        {
            return instance;
        }
        if (descriptor.ImplementationFactory is { } factory)
        {
            return (ILoggerProvider)factory(services);
        }
        return (ILoggerProvider)ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!);
    }

    private sealed class CategoryWindow
    {
        public long Start;
        public int Count;
        public long Dropped;
    }

    private sealed class Provider(ILoggerProvider inner, ConnectionLogRateLimit limit) : ILoggerProvider, ISupportExternalScope
    {
        public ILogger CreateLogger(string categoryName)
        {
            var logger = inner.CreateLogger(categoryName);
            return Applies(categoryName) ? new Limited(logger, categoryName, limit) : logger;
        }

        public void SetScopeProvider(IExternalScopeProvider scopeProvider)
        {
            if (inner is ISupportExternalScope scoped)
            {
                scoped.SetScopeProvider(scopeProvider);
            }
        }

        public void Dispose() => inner.Dispose();
    }

    private sealed partial class Limited(ILogger inner, string category, ConnectionLogRateLimit limit) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel < LogLevel.Warning || !inner.IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
                return;
            }
            if (!limit.TryTake(category, out var dropped))
            {
                return;
            }
            if (dropped > 0)
            {
                LogDropped(inner, dropped, PerWindow, Window.TotalSeconds);
            }
            inner.Log(logLevel, eventId, state, exception, formatter);
        }

        [LoggerMessage(EventId = 1311, EventName = "ConnectionWarningsDropped", Level = LogLevel.Warning,
            Message = "{Dropped} more connection warning(s) of this category were not logged (at most {PerWindow} per {Seconds} s)")]
        private static partial void LogDropped(ILogger logger, long dropped, int perWindow, double seconds);
    }
}
