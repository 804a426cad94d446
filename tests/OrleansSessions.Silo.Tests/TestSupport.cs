using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OrleansSessions.Hosting;
using OrleansSessions.SiloHost.Api;
using OrleansSessions.SiloHost.Dashboard;
using OrleansSessions.TestingHost;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace OrleansSessions.Silo.Tests;

/// <summary>Starts TestClusters whose silos serve the HTTP API and the dashboard, and HTTP helpers over them.</summary>
internal static class ApiCluster
{
    public static async Task<TestCluster> StartAsync(int silos, Action<TestClusterBuilder>? configure = null, Action<SessionApiOptions>? api = null)
    {
        var builder = new TestClusterBuilder(silos)
            .ConfigureSilo(s => s.AddSessionGrains())
            .ConfigureSiloServices(s => s.AddSessionApi(api))
            .ConfigureApplication(app =>
            {
                app.MapSessionApi();
                app.MapSessionDashboard();
            });
        configure?.Invoke(builder);
        return await builder.BuildAndStartAsync();
    }

    public static HttpClient Http(TestSilo silo, string? token = null)
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.HttpPort}"), Timeout = TimeSpan.FromSeconds(30) };
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
}

/// <summary>Paths of the repository and its build outputs.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release, as this test assembly was built.</summary>
    public static string Configuration { get; } = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OrleansSessions.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("OrleansSessions.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Runs a child process to completion with a deadline, capturing its output.</summary>
internal static class ChildProcess
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not exit within {timeout}. stdout: {await stdout} stderr: {await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
