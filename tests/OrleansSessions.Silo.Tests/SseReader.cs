using System.Net;
using System.Text.Json;
using System.Threading.Channels;

namespace OrleansSessions.Silo.Tests;

/// <summary>Reads server-sent events line by line; opening returns once the server has subscribed (its ": connected" comment).</summary>
internal sealed class SseReader : IAsyncDisposable
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

    /// <summary>The id of the last message read ("id:" line), or null.</summary>
    public string? LastId { get; private set; }

    /// <summary>The ids of the messages <see cref="ReadEventsUntilAsync"/> read, in order.</summary>
    public List<string?> Ids { get; } = [];

    public static async Task<SseReader> OpenAsync(HttpClient http, string path, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
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
        string? id = null;
        while (true)
        {
            var line = await _lines.Reader.ReadAsync(cancellationToken);
            if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line["id: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                LastId = id;
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

    /// <summary>Reads "data:" messages as JSON until <paramref name="done"/> holds for the ones read so far.</summary>
    public async Task<List<JsonElement>> ReadEventsUntilAsync(Func<List<JsonElement>, bool> done, TimeSpan timeout)
    {
        var events = new List<JsonElement>();
        using var deadline = new CancellationTokenSource(timeout);
        while (!done(events))
        {
            string data;
            try
            {
                data = await NextDataAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"Not within {timeout}; events so far: {string.Join(", ", events.Select(e => e.GetProperty("type").GetString() + " " + e.GetProperty("session").GetProperty("sessionId").GetString()))}");
            }
            events.Add(JsonDocument.Parse(data).RootElement.Clone());
            Ids.Add(LastId);
        }
        return events;
    }
}
