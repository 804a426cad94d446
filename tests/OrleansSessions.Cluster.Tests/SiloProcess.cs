using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using OrleansSessions.Client.Security;

namespace OrleansSessions.Cluster.Tests;

/// <summary>
/// One real silo process (silo/bin/&lt;Configuration&gt;/net10.0/OrleansSessions.Silo.dll) on free loopback ports.
/// <see cref="KillAsync"/> is a real SIGKILL (kill -9), not Orleans' in-process KillSiloAsync. Every process started
/// here is also remembered in <see cref="Running"/> and killed when the test process exits, so a failing test leaves
/// nothing behind.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<int, Process> Running = new();
    private readonly StringBuilder _output = new();
    private readonly Process _process;

    static SiloProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillLeftovers();
    }

    private readonly X509Certificate2Collection? _httpsAuthorities;

    private SiloProcess(Process process, int index, int siloPort, int gatewayPort, int httpPort, X509Certificate2Collection? httpsAuthorities)
    {
        _process = process;
        _httpsAuthorities = httpsAuthorities;
        Index = index;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        HttpPort = httpPort;
    }

    /// <summary>The silo's position in its cluster (0-based), for messages.</summary>
    public int Index { get; }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public int HttpPort { get; }

    public int ProcessId => _process.Id;

    /// <summary>The silo address reported by /healthz ("127.0.0.1:port@generation").</summary>
    public string Address { get; private set; } = "";

    public bool HasExited => _process.HasExited;

    public string Gateway => $"127.0.0.1:{GatewayPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>An address on the HTTP port: https when the silo was started with Security:Certificate.</summary>
    public Uri Url(string path) => new($"{(_httpsAuthorities is null ? "http" : "https")}://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}{path}");

    /// <summary>An HTTP client for <see cref="Url"/>: with TLS, it trusts only the silo's Security:CaCertificate.</summary>
    public HttpClient NewHttpClient(TimeSpan timeout)
    {
        if (_httpsAuthorities is null)
        {
            return new HttpClient { Timeout = timeout };
        }
        var validator = new CertificateAuthorityValidator(_httpsAuthorities, [CertificateAuthorityValidator.ServerAuthentication]);
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, chain, errors) => certificate is not null && validator.Validate(certificate, chain, errors),
        };
        return new HttpClient(handler) { Timeout = timeout };
    }

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

    /// <summary>The last <paramref name="lines"/> lines of the silo's console output, for failure messages.</summary>
    public string Tail(int lines = 40)
    {
        var all = Output.Split('\n');
        return $"--- silo {Index} (pid {_process.Id}, gateway {GatewayPort}) ---\n" + string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>Starts the silo with <paramref name="settings"/> (configuration keys without "--") and waits for /healthz 200.</summary>
    public static async Task<SiloProcess> StartAsync(int index, IReadOnlyDictionary<string, string> settings, TimeSpan? timeout = null)
    {
        var dll = Repo.SiloDll;
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("Build the silo first (dotnet build silo).", dll);
        }
        var (siloPort, gatewayPort, httpPort) = (Ports.Free(), Ports.Free(), Ports.Free());
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.ArgumentList.Add(dll);
        foreach (var (key, value) in settings)
        {
            info.ArgumentList.Add($"--{key}={value}");
        }
        info.ArgumentList.Add($"--Silo:SiloPort={siloPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add($"--Silo:GatewayPort={gatewayPort.ToString(CultureInfo.InvariantCulture)}");
        info.ArgumentList.Add($"--Silo:HttpPort={httpPort.ToString(CultureInfo.InvariantCulture)}");
        var process = new Process { StartInfo = info };
        var https = settings.TryGetValue("Security:Certificate", out var certificate) && certificate.Length > 0
            && settings.TryGetValue("Security:CaCertificate", out var ca) && ca.Length > 0
            ? CertificateFiles.LoadAuthorities(ca)
            : null;
        var silo = new SiloProcess(process, index, siloPort, gatewayPort, httpPort, https);
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data is null ? null : "stderr: " + e.Data);
        process.Start();
        Running[process.Id] = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await silo.WaitHealthyAsync(timeout ?? TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        }
        catch
        {
            await silo.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return silo;
    }

    private async Task WaitHealthyAsync(TimeSpan timeout)
    {
        using var http = NewHttpClient(TimeSpan.FromSeconds(3));
        await Wait.UntilAsync(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"silo {Index} exited with {_process.ExitCode} before serving:\n{Tail()}");
            }
            try
            {
                using var response = await http.GetAsync(Url("/healthz")).ConfigureAwait(false);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    return false;
                }
                using var health = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
                Address = health.RootElement.TryGetProperty("silo", out var address) ? address.GetString() ?? "" : "";
                return true;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        }, timeout, () => $"silo {Index} answering /healthz\n{Tail()}").ConfigureAwait(false);
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            if (_output.Length < 4_000_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>kill -9: SIGKILL, the silo ends without a word to its peers, clients or storage.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-KILL", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync().ConfigureAwait(false);
            }
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        Running.TryRemove(_process.Id, out _);
    }

    /// <summary>Test clean-up: kill -9 (the cluster id is unique, nothing needs a graceful leave).</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync().ConfigureAwait(false);
        }
        catch (Exception) when (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // never started
        }
        _process.Dispose();
    }

    private static void KillLeftovers()
    {
        foreach (var process in Running.Values)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }
    }
}

/// <summary>Polls a condition until it holds or a deadline passes; the only sleeps of these tests are its poll intervals.</summary>
internal static class Wait
{
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> what, TimeSpan? poll = null)
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition().ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (InvalidOperationException)
            {
                throw;
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                last = ex;
            }
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for: {what()}" + (last is null ? "" : $"\nlast error: {last.GetType().Name}: {last.Message}"), last);
            }
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
    }

    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? poll = null)
        => UntilAsync(condition, timeout, () => what, poll);
}
