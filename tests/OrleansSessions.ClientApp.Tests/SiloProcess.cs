using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using OrleansSessions.Testing;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>
/// One silo as its own process (the built silo host) on free ports, for what an in-process cluster cannot show: a
/// kill -9. Started with <see cref="StartAsync"/>, which returns once /healthz answers 200.
/// </summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SiloProcess(Process process, int siloPort, int gatewayPort, int httpPort, string[] settings)
    {
        _process = process;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        HttpPort = httpPort;
        _settings = settings;
    }

    private readonly string[] _settings;

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public int HttpPort { get; }

    /// <summary>The gateway as host:port.</summary>
    public string Gateway => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{GatewayPort}");

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

    public static Task<SiloProcess> StartAsync(params string[] settings) => StartAsync(Ports.Free(), Ports.Free(), Ports.Free(), settings);

    /// <summary>A new silo process on this one's ports and settings (after <see cref="Kill"/>): a restarted silo.</summary>
    public Task<SiloProcess> StartAgainAsync() => StartAsync(SiloPort, GatewayPort, HttpPort, _settings);

    private static async Task<SiloProcess> StartAsync(int siloPort, int gatewayPort, int httpPort, string[] settings)
    {
        Assert.True(File.Exists(Repo.SiloDll), $"{Repo.SiloDll} is not built");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        info.ArgumentList.Add(Repo.SiloDll);
        info.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"--Silo:SiloPort={siloPort}"));
        info.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"--Silo:GatewayPort={gatewayPort}"));
        info.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"--Silo:HttpPort={httpPort}"));
        foreach (var setting in settings)
        {
            info.ArgumentList.Add(setting);
        }
        info.Environment.Remove("OrleansSessions__Security__ApiToken");
        info.Environment.Remove("OrleansSessions__Cluster__ClusterId");
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the silo.");
        var silo = new SiloProcess(process, siloPort, gatewayPort, httpPort, settings);
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await Poll.UntilAsync(silo.IsHealthyAsync, "the silo serving /healthz", TimeSpan.FromSeconds(60));
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
        return silo;
    }

    private async Task<bool> IsHealthyAsync()
    {
        Assert.False(_process.HasExited, $"The silo exited with {(_process.HasExited ? _process.ExitCode : 0)} before serving:\n{Output}");
        using var http = new HttpClient { BaseAddress = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{HttpPort}")), Timeout = TimeSpan.FromSeconds(5) };
        using var response = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
        return response.StatusCode == HttpStatusCode.OK;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>kill -9: the silo ends without a word to anyone.</summary>
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
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
