using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using static OrleansSessions.Silo.Tests.ApiCluster;

namespace OrleansSessions.Silo.Tests;

/// <summary>Issue 16 on the default silo: user ids a URL cannot carry, memory pinned by reads, status codes and bodies, cross-site requests.</summary>
[Collection(DefaultSiloCollection.Name)]
public sealed class HardeningTests(DefaultSiloFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Theory]
    [InlineData("team/alice")]
    [InlineData("team%2Falice")]
    [InlineData("back\\slash")]
    [InlineData("q?x")]
    [InlineData("h#x")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("zero\u200Bwidth")]
    [InlineData("rtl\u202Eeman")]
    [InlineData("\uFEFFbom")]
    [InlineData("e\u0301")]
    public async Task User_ids_a_url_cannot_carry_or_that_are_not_nfc_are_400_invalid_user_id(string userId)
    {
        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 400, JsonSerializer.Serialize(new { userId })), "invalid_user_id");
        var detail = (await SendAsync(_http, HttpMethod.Post, "/api/sessions", 400, JsonSerializer.Serialize(new { userId }))).GetProperty("detail").GetString();
        Assert.Contains("NFC", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_path_never_addresses_another_user()
    {
        // "team%2Falice" in a path reaches the handler as the literal "team%2Falice"; no such id can exist, so it is 400.
        foreach (var path in new[] { "/api/users/team%2Falice/sessions", "/api/users/team%2Falice/history", "/api/users/a%E2%80%8Bb/sessions", "/api/users/e%CC%81/sessions" })
        {
            AssertError(await SendAsync(_http, HttpMethod.Get, path, 400), "invalid_user_id");
        }
        AssertError(await SendAsync(_http, HttpMethod.Delete, "/api/users/team%2Falice/sessions", 400), "invalid_user_id");
        // Dot segments are removed before routing: "/api/users/./sessions" is "/api/users/sessions", never a user.
        using (var dot = await _http.GetAsync("/api/users/%2E/sessions"))
        {
            Assert.Equal(HttpStatusCode.NotFound, dot.StatusCode);
        }
        using var response = await _http.GetAsync("/api/users/%2E%2E/sessions");
        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        AssertError(await ReadJsonAsync(response), "method_not_allowed");
        // A valid id with characters that need escaping round-trips to the same user.
        var user = "ana mar\u00eda+" + Guid.NewGuid().ToString("N")[..6];
        var created = await CreateAsync(_http, user);
        var listed = await SendAsync(_http, HttpMethod.Get, $"/api/users/{Uri.EscapeDataString(user)}/sessions", 200);
        Assert.Equal(created.GetProperty("sessionId").GetString(), Assert.Single(listed.EnumerateArray()).GetProperty("sessionId").GetString());
    }

    [Fact]
    public async Task Reads_of_users_that_never_existed_leave_no_activation_behind()
    {
        var before = await ActivationsAsync();
        const int Reads = 300;
        var prefix = Guid.NewGuid().ToString("N")[..8];
        await Parallel.ForAsync(0, Reads, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var kind = i % 3 == 0 ? "history" : "sessions";
            using var response = await _http.GetAsync($"/api/users/ghost-{prefix}-{i}/{kind}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        });
        // Unknown session ids read by id leave nothing either.
        for (var i = 0; i < 50; i++)
        {
            using var response = await _http.GetAsync($"/api/sessions/sess_{Guid.NewGuid():D}");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
        // Without the fix every read pins one activation for the collection age (15 minutes).
        await Wait.UntilAsync(async () => await ActivationsAsync() < before + 40, TimeSpan.FromSeconds(20), $"activations back near {before} after {Reads} reads of unknown users");
    }

    [Fact]
    public async Task Framework_errors_have_the_json_error_body()
    {
        AssertError(await SendAsync(_http, HttpMethod.Get, "/no/such/path", 404), "not_found");
        AssertError(await SendAsync(_http, HttpMethod.Put, "/api/sessions", 405), "method_not_allowed");
        AssertError(await SendAsync(_http, HttpMethod.Get, "/api/users/u/sessions?x=" + new string('a', 9_000), 414), "uri_too_long");
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/api/cluster"))
        {
            request.Headers.Add("X-Big", new string('h', 40_000));
            using var response = await _http.SendAsync(request);
            Assert.Equal((HttpStatusCode)431, response.StatusCode);
            AssertError(await ReadJsonAsync(response), "headers_too_large");
        }
        var big = JsonSerializer.Serialize(new { userId = "u", pad = new string('p', 100_000) });
        AssertError(await SendAsync(_http, HttpMethod.Post, "/api/sessions", 413, big), "body_too_large");
    }

    [Fact]
    public async Task Create_with_an_empty_idempotency_key_is_400()
    {
        // On the wire ("Idempotency-Key: "): an in-process TestServer request cannot carry a header with an empty value.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/sessions") { Content = Json($"{{\"userId\":\"{NewUser("idem-empty")}\"}}") };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", "");
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_idempotency_key", (await ReadJsonAsync(response)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Head_healthz_is_200_without_a_body()
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("{\"userId\": 5}")]
    [InlineData("{\"userId\": \"a\"")]
    [InlineData("[1]")]
    [InlineData("{\"userId\": {\"x\": 1}}")]
    public async Task Error_details_are_in_the_callers_terms(string body)
    {
        var detail = (await SendAsync(_http, HttpMethod.Post, "/api/sessions", 400, body)).GetProperty("detail").GetString()!;
        foreach (var internals in new[] { "System.", "OrleansSessions.", "LineNumber", "BytePosition", "Path: $", "Exception" })
        {
            Assert.DoesNotContain(internals, detail, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("127.0.0.1.nip.io")]
    public async Task Without_a_token_only_loopback_host_names_are_served(string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/cluster");
        request.Headers.Host = $"{host}:{fixture.Silo.HttpPort}";
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        AssertError(await ReadJsonAsync(response), "invalid_host");

        using var local = new HttpRequestMessage(HttpMethod.Get, "/api/cluster");
        local.Headers.Host = $"localhost:{fixture.Silo.HttpPort}";
        using var ok = await _http.SendAsync(local);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_write_from_a_page_of_another_origin_is_403()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/janitor/run");
        request.Headers.Add("Origin", "https://evil.example");
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        AssertError(await ReadJsonAsync(response), "cross_origin");

        using var same = new HttpRequestMessage(HttpMethod.Post, "/api/janitor/run");
        same.Headers.Add("Origin", $"http://127.0.0.1:{fixture.Silo.HttpPort}");
        using var sameResponse = await _http.SendAsync(same);
        Assert.Equal(HttpStatusCode.OK, sameResponse.StatusCode);
    }

    private async Task<int> ActivationsAsync()
    {
        var cluster = await SendAsync(_http, HttpMethod.Get, "/api/cluster", 200);
        return cluster.GetProperty("silos").EnumerateArray().Sum(s => s.GetProperty("activations").ValueKind == JsonValueKind.Number ? s.GetProperty("activations").GetInt32() : 0);
    }
}

/// <summary>Issue 16 on a silo with small limits: connections, event subscribers, slow bodies.</summary>
public sealed class HttpLimitsTests(HttpLimitsTests.LimitsSiloFixture fixture) : IClassFixture<HttpLimitsTests.LimitsSiloFixture>
{
    private const int MaxConnections = 8;

    /// <summary>A silo with Http:MaxConnections=8, Sse:MaxSubscribers=2 and Http:RequestBodyTimeout=2 s.</summary>
    public sealed class LimitsSiloFixture : IAsyncLifetime
    {
        internal SiloProcess Silo { get; private set; } = null!;

        public async Task InitializeAsync()
            => Silo = await SiloProcess.StartAsync($"--Http:MaxConnections={MaxConnections}", "--Sse:MaxSubscribers=2", "--Http:RequestBodyTimeout=00:00:02");

        public async Task DisposeAsync() => await Silo.DisposeAsync();
    }

    [Fact]
    public async Task Event_subscribers_beyond_Sse_MaxSubscribers_get_503_with_a_json_body()
    {
        using var http = fixture.Silo.Http();
        await using (var first = await SseReader.OpenAsync(http, "/api/events"))
        {
            await using var second = await SseReader.OpenAsync(http, "/api/events?userId=someone");
            using var third = await http.GetAsync("/api/events", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, third.StatusCode);
            AssertError(await ReadJsonAsync(third), "too_many_subscribers");
        }
        // A subscriber that left frees its place.
        await Wait.UntilAsync(async () =>
        {
            using var again = await http.GetAsync("/api/events", HttpCompletionOption.ResponseHeadersRead);
            return again.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(10), "a new subscriber accepted after the others left");
    }

    [Fact]
    public async Task A_trickled_body_is_408()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, fixture.Silo.HttpPort);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1:{fixture.Silo.HttpPort}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"));
        var response = ReadAllAsync(socket, TimeSpan.FromSeconds(15));
        var clock = Stopwatch.StartNew();
        // One byte a second, far below Kestrel's minimum rate of 240 bytes/s.
        while (!response.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(12))
        {
            try
            {
                await socket.SendAsync(" "u8.ToArray());
            }
            catch (SocketException)
            {
                break;
            }
            await Task.WhenAny(response, Task.Delay(1000));
        }
        var text = await response;
        Assert.StartsWith("HTTP/1.1 408", text, StringComparison.Ordinal);
        Assert.Contains("\"error\":\"request_timeout\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connections_beyond_Http_MaxConnections_are_refused_and_the_silo_stays_healthy()
    {
        var open = new List<Socket>();
        var refused = 0;
        try
        {
            for (var i = 0; i < MaxConnections + 6 && refused == 0; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, fixture.Silo.HttpPort);
                await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{fixture.Silo.HttpPort}\r\n\r\n"));
                var answer = await ReadSomeAsync(socket, TimeSpan.FromSeconds(5));
                if (answer.StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
                {
                    open.Add(socket); // kept open and idle (keep-alive): it holds its place
                }
                else
                {
                    refused++;
                    socket.Dispose();
                }
            }
            Assert.True(refused > 0, $"{open.Count} connections were all served; expected a refusal beyond {MaxConnections}");
            Assert.InRange(open.Count, 1, MaxConnections);
        }
        finally
        {
            foreach (var socket in open)
            {
                socket.Dispose();
            }
        }
        Assert.False(fixture.Silo.HasExited, fixture.Silo.Output);
        await Wait.UntilAsync(async () =>
        {
            using var http = fixture.Silo.Http();
            try
            {
                using var response = await http.GetAsync("/healthz");
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(10), "/healthz answering once the idle connections closed");
    }

    /// <summary>Reads what arrives within <paramref name="timeout"/> until the first pause after data, or the close.</summary>
    private static async Task<string> ReadSomeAsync(Socket socket, TimeSpan timeout)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.ASCII.GetString(buffer, 0, n);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return "";
        }
    }

    /// <summary>Reads until the peer closes or <paramref name="timeout"/> passes.</summary>
    private static async Task<string> ReadAllAsync(Socket socket, TimeSpan timeout)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, n));
                if (text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && text.ToString().Contains('}', StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
        }
        return text.ToString();
    }
}
