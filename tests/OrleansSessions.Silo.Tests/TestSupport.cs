using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace OrleansSessions.Silo.Tests;

/// <summary>HTTP helpers over a silo's API.</summary>
internal static class ApiCluster
{
    /// <summary>A plain-HTTP client of <paramref name="httpPort"/> (a silo's own is <see cref="SiloProcess.Http"/>).</summary>
    public static HttpClient Http(int httpPort, string? token = null)
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return http;
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new Xunit.Sdk.XunitException($"Not JSON ({(int)response.StatusCode}): '{text}' ({ex.Message})");
        }
    }

    /// <summary>Sends and checks the status, returning the JSON body.</summary>
    public static async Task<JsonElement> SendAsync(HttpClient http, HttpMethod method, string path, int expectedStatus, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = Json(body);
        }
        using var response = await http.SendAsync(request);
        var json = await ReadJsonAsync(response);
        Assert.True(expectedStatus == (int)response.StatusCode, $"{method} {path}: expected {expectedStatus}, got {(int)response.StatusCode}: {json}");
        return json;
    }

    public static Task<JsonElement> CreateAsync(HttpClient http, string userId)
        => SendAsync(http, HttpMethod.Post, "/api/sessions", 201, JsonSerializer.Serialize(new { userId }));

    /// <summary>Asserts an {"error","detail"} body with the code.</summary>
    public static void AssertError(JsonElement body, string code)
    {
        Assert.Equal(code, body.GetProperty("error").GetString());
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("detail").GetString()));
    }

    public static string NewUser(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    /// <summary>Waits until the wall clock has passed <paramref name="at"/> (a session deadline, say).</summary>
    public static async Task WaitUntilAsync(DateTimeOffset at)
    {
        var remaining = at - DateTimeOffset.UtcNow;
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining + TimeSpan.FromMilliseconds(20));
        }
    }
}
