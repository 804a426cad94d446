using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using OrleansSessions.TestingHost;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>GET /api/events on real time: a 2 s idle timeout with a 1 s warning, timers and janitor real.</summary>
public sealed class EventStreamTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ApiCluster.StartAsync(1, b => b
        .AddConfiguration("Sessions:IdleTimeout", "00:00:02")
        .AddConfiguration("Sessions:WarningBefore", "00:00:01"),
        api => api.HeartbeatInterval = TimeSpan.FromMilliseconds(300));

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Stream_shows_created_expiring_expired_for_the_users_session_only()
    {
        using var http = Http(_cluster.Silos[0]);
        var user = NewUser("sse");
        await using var stream = await SseReader.OpenAsync(http, $"/api/events?userId={user}");

        await CreateAsync(http, NewUser("other"));
        var created = await CreateAsync(http, user);
        var id = created.GetProperty("sessionId").GetString();

        var events = new List<JsonElement>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!events.Any(e => e.GetProperty("type").GetString() == "expired"))
        {
            var data = await stream.NextDataAsync(deadline.Token);
            events.Add(JsonDocument.Parse(data).RootElement.Clone());
        }

        Assert.Equal(new[] { "created", "expiring", "expired" }, events.Select(e => e.GetProperty("type").GetString()!).ToArray());
        Assert.All(events, e =>
        {
            Assert.Equal(id, e.GetProperty("session").GetProperty("sessionId").GetString());
            Assert.Equal(user, e.GetProperty("session").GetProperty("userId").GetString());
            Assert.EndsWith("Z", e.GetProperty("at").GetString(), StringComparison.Ordinal);
            Assert.Equal(3, e.EnumerateObject().Count());
        });
        var expired = events[2];
        Assert.Equal("expired", expired.GetProperty("session").GetProperty("status").GetString());
        Assert.Equal("idle_timeout", expired.GetProperty("session").GetProperty("endReason").GetString());
        var deadlineAt = created.GetProperty("expiresAt").GetDateTimeOffset();
        Assert.True(events[1].GetProperty("at").GetDateTimeOffset() >= deadlineAt - TimeSpan.FromSeconds(1));
        Assert.True(expired.GetProperty("at").GetDateTimeOffset() >= deadlineAt);
    }

    [Fact]
    public async Task Stream_is_text_event_stream_with_heartbeat_comments()
    {
        using var http = Http(_cluster.Silos[0]);
        await using var stream = await SseReader.OpenAsync(http, "/api/events");
        Assert.Equal("text/event-stream", stream.ContentType);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await stream.NextCommentAsync("heartbeat", deadline.Token);
    }

    [Fact]
    public async Task Stream_with_a_malformed_user_filter_is_400()
    {
        using var http = Http(_cluster.Silos[0]);
        AssertError(await SendAsync(http, HttpMethod.Get, $"/api/events?userId={Uri.EscapeDataString("a\u0001")}", 400), "invalid_user_id");
    }

    /// <summary>Reads server-sent events line by line; opening returns once the server has subscribed (its ": connected" comment).</summary>
    private sealed class SseReader : IAsyncDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;
        private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
        private readonly Task _pump;
        private readonly CancellationTokenSource _stop = new();

        private SseReader(HttpResponseMessage response, StreamReader reader)
        {
            _response = response;
            _reader = reader;
            _pump = Task.Run(PumpAsync);
        }

        public string? ContentType => _response.Content.Headers.ContentType?.MediaType;

        public static async Task<SseReader> OpenAsync(HttpClient http, string path)
        {
            var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var reader = new SseReader(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await reader.NextCommentAsync("connected", deadline.Token);
            return reader;
        }

        private async Task PumpAsync()
        {
            try
            {
                while (await _reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    await _lines.Writer.WriteAsync(line);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
            _lines.Writer.TryComplete();
        }

        public async Task NextCommentAsync(string text, CancellationToken cancellationToken)
        {
            while (true)
            {
                var line = await _lines.Reader.ReadAsync(cancellationToken);
                if (line == ": " + text)
                {
                    return;
                }
            }
        }

        public async Task<string> NextDataAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var line = await _lines.Reader.ReadAsync(cancellationToken);
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    return line["data: ".Length..];
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _response.Dispose();
            await _pump;
            _reader.Dispose();
            _stop.Dispose();
        }
    }
}
