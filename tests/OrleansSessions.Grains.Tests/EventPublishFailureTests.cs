using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Orleans.Providers;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// A stream that refuses events (Orleans' memory stream queue holds at most 16,384 waiting events) costs the events,
/// never the sessions: each refused publish is counted, and logged at most once per interval per silo.
/// </summary>
public sealed class EventPublishFailureTests
{
    [Fact]
    public void The_throttle_lets_the_first_occurrence_of_each_interval_through_and_counts_the_others()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));

        Assert.True(throttle.TryLog(out var heldBack));
        Assert.Equal(0, heldBack);
        Assert.False(throttle.TryLog(out _));
        time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.False(throttle.TryLog(out _));
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(throttle.TryLog(out heldBack));
        Assert.Equal(2, heldBack);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(throttle.TryLog(out heldBack));
        Assert.Equal(0, heldBack);
    }

    [Fact]
    public async Task Refused_events_are_counted_for_every_session_and_logged_once_per_interval()
    {
        var time = new FakeTimeProvider(SessionCluster.Start);
        var logs = new LogCapture();
        var refuse = new RefuseEnqueueFilter();
        await using var cluster = await SessionCluster.StartAsync(time, configureSilo: silo =>
        {
            silo.Services.AddSingleton<ILoggerProvider>(logs);
            silo.AddOutgoingGrainCallFilter(refuse);
        });
        var metrics = SessionCluster.Metrics(cluster.Silos[0]);
        refuse.Refusing = true;

        for (var i = 0; i < 5; i++)
        {
            // The create answers and the session lives; only its "created" event is lost.
            var created = await cluster.Client.GetGrain<IUserSessionsGrain>("refused-" + i).CreateSessionAsync();
            Assert.True(await cluster.Client.GetGrain<ISessionGrain>(created.SessionId).IsActiveAsync());
        }
        Assert.Equal(5, metrics.EventsFailed);
        var first = Assert.Single(logs.Published());
        Assert.Equal(LogLevel.Warning, first.Level);
        Assert.Contains("publishing its Created event failed; 0 failed publishes", first.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(first.Exception);

        // One interval later the next failure is logged again, with the count of those that were not.
        time.Advance(SessionServices.PublishFailureLogInterval);
        var closed = await cluster.Client.GetGrain<IUserSessionsGrain>("refused-0").GetActiveSessionsAsync();
        await cluster.Client.GetGrain<ISessionGrain>(Assert.Single(closed).SessionId).CloseAsync();
        Assert.Equal(6, metrics.EventsFailed);
        Assert.Equal(2, logs.Published().Count);
        Assert.Contains("publishing its Closed event failed; 4 failed publishes", logs.Published()[1].Message, StringComparison.Ordinal);

        // Once the stream takes events again, nothing more is counted.
        refuse.Refusing = false;
        await cluster.Client.GetGrain<IUserSessionsGrain>("accepted").CreateSessionAsync();
        Assert.Equal(6, metrics.EventsFailed);
    }

    /// <summary>Refuses enqueues into Orleans' memory stream queue grains while <see cref="Refusing"/> is set.</summary>
    private sealed class RefuseEnqueueFilter : IOutgoingGrainCallFilter
    {
        public volatile bool Refusing;

        public Task Invoke(IOutgoingGrainCallContext context)
        {
            if (Refusing && context.InterfaceMethod?.DeclaringType == typeof(IMemoryStreamQueueGrain) && context.InterfaceMethod.Name == nameof(IMemoryStreamQueueGrain.Enqueue))
            {
                throw new InvalidOperationException("Can not enqueue: refused by the test.");
            }
            return context.Invoke();
        }
    }

    private sealed record Entry(string Category, EventId EventId, LogLevel Level, string Message, Exception? Exception);

    /// <summary>Records the silo's log entries.</summary>
    private sealed class LogCapture : ILoggerProvider
    {
        private readonly ConcurrentQueue<Entry> _entries = new();

        public List<Entry> Published() => _entries.Where(e => e.EventId.Name == "EventPublishFailed").ToList();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(LogCapture owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
                => owner._entries.Enqueue(new Entry(category, eventId, logLevel, formatter(state, exception), exception));
        }
    }
}
