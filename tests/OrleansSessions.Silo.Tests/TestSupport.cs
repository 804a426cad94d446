using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using OrleansSessions.Client.Security;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace OrleansSessions.Silo.Tests;

/// <summary>HTTP helpers over a silo's API.</summary>
internal static class ApiCluster
{
    /// <summary>A client of the silo's HTTP port; HTTPS, trusting only <paramref name="httpsAuthorities"/>, when they are given.</summary>
    public static HttpClient Http(int httpPort, string? token = null, X509Certificate2Collection? httpsAuthorities = null)
    {
        HttpClient http;
        if (httpsAuthorities is null)
        {
            http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        }
        else
        {
            var validator = new CertificateAuthorityValidator(httpsAuthorities, [CertificateAuthorityValidator.ServerAuthentication]);
            var handler = new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, certificate, chain, errors) => certificate is not null && validator.Validate(certificate, chain, errors),
            };
            http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        }
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

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes (then fails with <paramref name="what"/>).</summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return;
            }
            if (deadline.Elapsed > timeout)
            {
                throw new Xunit.Sdk.XunitException($"Not within {timeout}: {what}");
            }
            await Task.Delay(100);
        }
    }

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

/// <summary>Free TCP ports on loopback.</summary>
/// <summary>
/// One silo as its own process (the built silo/bin/.../OrleansSessions.Silo.dll) on free ports. Started with
/// <see cref="StartAsync"/>, which returns once /healthz answers 200; disposed with SIGTERM (graceful stop), or
/// killed with <see cref="Kill"/> (SIGKILL, a crash).
/// </summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private readonly X509Certificate2Collection? _httpsAuthorities;

    private SiloProcess(Process process, int siloPort, int gatewayPort, int httpPort, X509Certificate2Collection? httpsAuthorities)
    {
        _process = process;
        _httpsAuthorities = httpsAuthorities;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        HttpPort = httpPort;
    }

    public static string SiloDll => Path.Combine(Repo.Root, "silo", "bin", Repo.Configuration, "net10.0", "OrleansSessions.Silo.dll");

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public int HttpPort { get; }

    /// <summary>The address the silo reports (host:port@generation), known once started.</summary>
    public string Address { get; private set; } = "";

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>A client of the HTTP API; HTTPS trusting the silo's Security:CaCertificate when it was started with Security:Certificate.</summary>
    public HttpClient Http(string? token = null) => ApiCluster.Http(HttpPort, token, _httpsAuthorities);

    public static Task<SiloProcess> StartAsync(params string[] settings) => StartAsync(openFileLimit: null, settings);

    /// <summary>Starts the silo with its soft and hard open-file limit (RLIMIT_NOFILE) set to <paramref name="openFileLimit"/> when given.</summary>
    public static async Task<SiloProcess> StartAsync(int? openFileLimit, params string[] settings)
    {
        Assert.True(File.Exists(SiloDll), $"{SiloDll} is not built");
        var siloPort = Ports.Free();
        var gatewayPort = Ports.Free();
        var httpPort = Ports.Free();
        var info = new ProcessStartInfo(openFileLimit is null ? "dotnet" : "/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        if (openFileLimit is { } limit)
        {
            // exec: the shell becomes the silo, so signals reach it.
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"ulimit -n {limit} && exec dotnet \"$@\"");
            info.ArgumentList.Add("silo");
        }
        info.ArgumentList.Add(SiloDll);
        info.ArgumentList.Add($"--Silo:SiloPort={siloPort}");
        info.ArgumentList.Add($"--Silo:GatewayPort={gatewayPort}");
        info.ArgumentList.Add($"--Silo:HttpPort={httpPort}");
        foreach (var setting in settings)
        {
            info.ArgumentList.Add(setting);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the silo.");
        var silo = new SiloProcess(process, siloPort, gatewayPort, httpPort, HttpsAuthorities(settings));
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data is null ? null : "stderr: " + e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await silo.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
        return silo;
    }

    /// <summary>The CA of a silo whose HTTP port speaks HTTPS (Security:Certificate and Security:CaCertificate given), else null.</summary>
    private static X509Certificate2Collection? HttpsAuthorities(string[] settings)
    {
        string? Value(string key) => settings.LastOrDefault(s => s.StartsWith($"--{key}=", StringComparison.Ordinal))?[(key.Length + 3)..];
        return Value("Security:Certificate") is { Length: > 0 } && Value("Security:CaCertificate") is { Length: > 0 } ca && File.Exists(ca)
            ? CertificateFiles.LoadAuthorities(ca)
            : null;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private async Task WaitHealthyAsync(TimeSpan timeout)
    {
        using var http = Http();
        http.Timeout = TimeSpan.FromSeconds(5);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new Xunit.Sdk.XunitException($"The silo exited with {_process.ExitCode} before serving:\n{Output}");
            }
            try
            {
                using var response = await http.GetAsync("/healthz");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var health = await ApiCluster.ReadJsonAsync(response);
                    // With Security:ApiToken set, /healthz answers only the status to a caller without the token.
                    Address = health.TryGetProperty("silo", out var silo) ? silo.GetString() ?? "" : "";
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }
            if (clock.Elapsed > timeout)
            {
                throw new Xunit.Sdk.XunitException($"The silo did not serve /healthz within {timeout}:\n{Output}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>kill -9: the silo ends without a word to its peers.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM: a graceful stop (leaves membership, unsubscribes), bounded; then a kill.
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Kill();
            }
        }
        _process.Dispose();
    }
}
