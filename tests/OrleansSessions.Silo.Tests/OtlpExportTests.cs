using System.Collections.Concurrent;
using System.Net;
using System.Text;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>With OpenTelemetry:Endpoint set, a silo exports its metrics and traces over OTLP (here http/protobuf to a stand-in collector).</summary>
public sealed class OtlpExportTests
{
    [Fact]
    public async Task Metrics_and_grain_call_traces_reach_the_OTLP_endpoint()
    {
        await using var collector = Collector.Start();
        // OTEL_* keys are the SDK's own: a 1-second metric export and a short trace batch delay keep the test short.
        await using var silo = await SiloProcess.StartAsync(
            $"--OpenTelemetry:Endpoint=http://127.0.0.1:{collector.Port}", "--OpenTelemetry:Protocol=http/protobuf",
            "--OTEL_METRIC_EXPORT_INTERVAL=1000", "--OTEL_BSP_SCHEDULE_DELAY=200");
        using var http = silo.Http();
        await CreateAsync(http, NewUser("otlp"));

        // Protobuf carries names as plain UTF-8: the meter's instrument, and the activity source of grain calls.
        await Wait.UntilAsync(() => Task.FromResult(collector.Received("/v1/metrics", "sessions.created")), TimeSpan.FromSeconds(20),
            "an OTLP metrics export with sessions.created");
        // One trace from the HTTP request through the grain calls it made (Orleans names a call "<interface>/<method>").
        foreach (var span in new[] { "POST /api/sessions", "IUserSessionsGrain/CreateSessionAsync", "ISessionLifecycleGrain/" })
        {
            await Wait.UntilAsync(() => Task.FromResult(collector.Received("/v1/traces", span)), TimeSpan.FromSeconds(20),
                $"an OTLP traces export with the span {span}");
        }
        // Orleans' background polling of the events stream's queues (every 100 ms) starts no trace of its own.
        Assert.False(collector.Received("/v1/traces", "IMemoryStreamQueueGrain/Dequeue"), "stream queue polling was traced");
    }

    /// <summary>Accepts OTLP/HTTP exports on a free loopback port and keeps their bodies by path.</summary>
    private sealed class Collector : IAsyncDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentQueue<(string Path, byte[] Body)> _exports = new();
        private Task _serving = Task.CompletedTask;

        public int Port { get; private set; }

        public static Collector Start()
        {
            var collector = new Collector { Port = Ports.Free() };
            collector._listener.Prefixes.Add($"http://127.0.0.1:{collector.Port}/");
            collector._listener.Start();
            collector._serving = collector.ServeAsync();
            return collector;
        }

        public bool Received(string path, string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            return _exports.Any(e => e.Path == path && e.Body.AsSpan().IndexOf(bytes) >= 0);
        }

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                _exports.Enqueue((context.Request.Url?.AbsolutePath ?? "", body.ToArray()));
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/x-protobuf";
                context.Response.Close();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _serving;
        }
    }
}
