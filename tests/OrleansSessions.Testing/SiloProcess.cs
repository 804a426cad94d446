using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using OrleansSessions.Client.Security;

namespace OrleansSessions.Testing;

/// <summary>
/// One silo as its own process on free ports: by default the repository's silo host
/// (silo/bin/&lt;Configuration&gt;/net10.0/OrleansSessions.Silo.dll), serving once GET /healthz answers 200; or any
/// program that prints a ready line (<see cref="SiloProcessOptions"/>). <see cref="KillAsync"/> is a real SIGKILL
/// (kill -9), not Orleans' in-process KillSiloAsync. Every process started here is killed when the test process exits,
/// so a failing test leaves nothing behind.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private const int MaxOutput = 4_000_000;
    private static readonly ConcurrentDictionary<int, Process> Running = new();
    private readonly StringBuilder _output = new();
    private readonly Process _process;
    private readonly SiloProcessOptions _options;
    private readonly X509Certificate2Collection? _httpsAuthorities;
    private readonly TaskCompletionSource _readyLine = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    static SiloProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillLeftovers();
    }

    private SiloProcess(Process process, SiloProcessOptions options, SiloPorts ports, X509Certificate2Collection? httpsAuthorities)
    {
        _process = process;
        _options = options;
        _httpsAuthorities = httpsAuthorities;
        SiloPort = ports.Silo;
        GatewayPort = ports.Gateway;
        HttpPort = ports.Http;
    }

    public string Name => _options.Name;

    /// <summary>The silo's position in its cluster (0-based), for messages.</summary>
    public int Index => _options.Index;

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public int HttpPort { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>True once the silo served (its ready line, or /healthz 200).</summary>
    public bool IsReady { get; private set; }

    /// <summary>The silo address reported by /healthz ("127.0.0.1:port@generation"); empty with an API token or a ready line.</summary>
    public string Address { get; private set; } = "";

    public string Gateway => $"127.0.0.1:{GatewayPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Everything the process wrote so far (stderr lines prefixed "stderr: "), up to 4 MB.</summary>
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

    /// <summary>An address on the HTTP port: https when the silo was started with Security:Certificate and Security:CaCertificate.</summary>
    public Uri Url(string path) => new($"{(_httpsAuthorities is null ? "http" : "https")}://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}{path}");

    /// <summary>
    /// A client of the HTTP port (base address <see cref="Url"/>("/")), with <paramref name="token"/> as its bearer token;
    /// with TLS it trusts only the silo's Security:CaCertificate.
    /// </summary>
    public HttpClient Http(string? token = null, TimeSpan? timeout = null)
    {
        HttpClient http;
        if (_httpsAuthorities is null)
        {
            http = new HttpClient();
        }
        else
        {
            var validator = new CertificateAuthorityValidator(_httpsAuthorities, [CertificateAuthorityValidator.ServerAuthentication]);
            var handler = new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, certificate, chain, errors) => certificate is not null && validator.Validate(certificate, chain, errors),
            };
            http = new HttpClient(handler);
        }
        http.BaseAddress = Url("/");
        http.Timeout = timeout ?? TimeSpan.FromSeconds(30);
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return http;
    }

    /// <summary>The last <paramref name="lines"/> lines of the silo's output, for failure messages.</summary>
    public string Tail(int lines = 40)
    {
        var all = Output.Split('\n');
        return $"--- {Name} (pid {_process.Id}, gateway {GatewayPort}) ---\n" + string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>Starts the silo host with <paramref name="arguments"/> ("--Section:Key=value"), waits until it serves; disposing stops it gracefully.</summary>
    public static Task<SiloProcess> StartAsync(params string[] arguments) => StartAsync(openFileLimit: null, arguments);

    /// <summary>As <see cref="StartAsync(string[])"/>, with the process' open-file limit set to <paramref name="openFileLimit"/> when given.</summary>
    public static Task<SiloProcess> StartAsync(int? openFileLimit, params string[] arguments)
        => StartAsync(new SiloProcessOptions { Arguments = arguments, OpenFileLimit = openFileLimit, StopGracefully = true });

    /// <summary>Starts silo <paramref name="index"/> of a cluster with <paramref name="settings"/> (keys without "--") and waits until it serves; disposing kills it.</summary>
    public static Task<SiloProcess> StartAsync(int index, IReadOnlyDictionary<string, string> settings, TimeSpan? timeout = null)
        => StartAsync(new SiloProcessOptions
        {
            Name = "silo " + index.ToString(CultureInfo.InvariantCulture),
            Index = index,
            Arguments = [.. settings.Select(kv => $"--{kv.Key}={kv.Value}")],
            StartTimeout = timeout ?? TimeSpan.FromSeconds(60),
        });

    /// <summary>Starts a silo and waits until it serves (disposing it if it does not).</summary>
    public static async Task<SiloProcess> StartAsync(SiloProcessOptions options)
    {
        var silo = Launch(options);
        try
        {
            await silo.WaitReadyAsync(options.StartTimeout).ConfigureAwait(false);
        }
        catch
        {
            await silo.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return silo;
    }

    /// <summary>A new process of this silo, on its ports and with its options (after <see cref="Kill"/>): a restarted silo.</summary>
    public Task<SiloProcess> StartAgainAsync() => StartAsync(_options with { Ports = new SiloPorts(SiloPort, GatewayPort, HttpPort) });

    /// <summary>Starts a silo without waiting; <see cref="WaitReadyAsync"/> waits until it serves.</summary>
    public static SiloProcess Launch(SiloProcessOptions options)
    {
        var ports = options.Ports ?? new SiloPorts(Ports.Free(), Ports.Free(), Ports.Free());
        var command = options.Command ?? ["dotnet", RequireBuilt(Repo.SiloDll)];
        var info = new ProcessStartInfo(options.OpenFileLimit is null ? command[0] : "/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (options.OpenFileLimit is { } limit)
        {
            // exec: the shell becomes the silo, so signals reach it.
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"ulimit -n {limit.ToString(CultureInfo.InvariantCulture)} && exec \"$@\"");
            info.ArgumentList.Add("silo");
            info.ArgumentList.Add(command[0]);
        }
        foreach (var argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var argument in (options.PortArguments ?? SiloHostPorts)(ports))
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var argument in options.Arguments)
        {
            info.ArgumentList.Add(argument);
        }
        var process = new Process { StartInfo = info };
        var silo = new SiloProcess(process, options, ports, HttpsAuthorities(options.Arguments));
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data is null ? null : "stderr: " + e.Data);
        process.Start();
        Running[process.Id] = process;
        options.OnStarted?.Invoke(silo);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>Waits until the silo serves (its ready line, or /healthz 200); throws at once if the process exits first.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        if (_options.ReadyLine is not null)
        {
            await Wait.UntilAsync(() => Task.FromResult(ServedOrExited(_readyLine.Task.IsCompleted)), timeout, () => $"{Name} printing {_options.ReadyLine}\n{Tail()}").ConfigureAwait(false);
            return;
        }
        using var http = Http(timeout: TimeSpan.FromSeconds(3));
        await Wait.UntilAsync(async () =>
        {
            ServedOrExited(false);
            try
            {
                using var response = await http.GetAsync(new Uri("/healthz", UriKind.Relative)).ConfigureAwait(false);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    return false;
                }
                // With Security:ApiToken set, /healthz answers only the status to a caller without the token.
                using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
                Address = health.RootElement.TryGetProperty("silo", out var address) ? address.GetString() ?? "" : "";
                return ServedOrExited(true);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        }, timeout, () => $"{Name} answering /healthz\n{Tail()}").ConfigureAwait(false);
    }

    private bool ServedOrExited(bool served)
    {
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"{Name} exited with {_process.ExitCode} before serving:\n{Tail()}");
        }
        IsReady |= served;
        return served;
    }

    /// <summary>kill -9: SIGKILL, the silo ends without a word to its peers, clients or storage.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        Running.TryRemove(_process.Id, out _);
    }

    /// <summary>kill -9, awaited.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        Running.TryRemove(_process.Id, out _);
    }

    /// <summary>SIGTERM (a graceful stop: leaves membership, unsubscribes), bounded by <paramref name="timeout"/>; then kill -9.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync().ConfigureAwait(false);
            }
            using var deadline = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // did not stop in time
            }
        }
        await KillAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the silo (gracefully when <see cref="SiloProcessOptions.StopGracefully"/>, else kill -9).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        try
        {
            if (_options.StopGracefully)
            {
                await StopAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
            }
            else
            {
                await KillAsync().ConfigureAwait(false);
            }
        }
        catch (Exception) when (!HasExitedSafe())
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // never started
        }
        _options.OnDisposed?.Invoke(this);
        _process.Dispose();
    }

    private bool HasExitedSafe()
    {
        try
        {
            return _process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        if (_options.ReadyLine is { } ready && line.StartsWith(ready, StringComparison.Ordinal))
        {
            _readyLine.TrySetResult();
        }
        lock (_output)
        {
            if (_output.Length < MaxOutput)
            {
                _output.AppendLine(line);
            }
        }
        _options.OnOutput?.Invoke(this, line);
    }

    private static IEnumerable<string> SiloHostPorts(SiloPorts ports) =>
    [
        $"--Silo:SiloPort={ports.Silo.ToString(CultureInfo.InvariantCulture)}",
        $"--Silo:GatewayPort={ports.Gateway.ToString(CultureInfo.InvariantCulture)}",
        $"--Silo:HttpPort={ports.Http.ToString(CultureInfo.InvariantCulture)}",
    ];

    private static string RequireBuilt(string dll)
        => File.Exists(dll) ? dll : throw new FileNotFoundException($"{dll} is not built (dotnet build silo).", dll);

    /// <summary>The CA of a silo whose HTTP port speaks HTTPS (Security:Certificate and Security:CaCertificate given), else null.</summary>
    private static X509Certificate2Collection? HttpsAuthorities(IReadOnlyList<string> arguments)
    {
        string? Value(string key) => arguments.LastOrDefault(s => s.StartsWith($"--{key}=", StringComparison.Ordinal))?[(key.Length + 3)..];
        return Value("Security:Certificate") is { Length: > 0 } && Value("Security:CaCertificate") is { Length: > 0 } ca && File.Exists(ca)
            ? CertificateFiles.LoadAuthorities(ca)
            : null;
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
