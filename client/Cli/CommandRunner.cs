using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime.Messaging;
using OrleansSessions.Client;
using OrleansSessions.Client.Security;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>Connects to the cluster, runs one command and turns its failures into a message on stderr and an exit code.</summary>
internal static class CommandRunner
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Runs <paramref name="validate"/> (input checks, before any connection), then <paramref name="command"/> on a connected client.</summary>
    public static async Task<int> RunAsync(CliSettings settings, Action? validate, Func<IClusterClient, Output, CancellationToken, Task<int>> command, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json, Console.Out, Console.Error);
        try
        {
            validate?.Invoke();
            ValidateGateways(settings);
            var host = await ConnectAsync(settings, cancellationToken).ConfigureAwait(false);
            try
            {
                return await command(host.Services.GetRequiredService<IClusterClient>(), output, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await StopAsync(host).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Ok;
        }
        catch (Exception ex)
        {
            var (code, message) = Describe(ex, settings);
            await output.Error.WriteLineAsync($"error: {message}").ConfigureAwait(false);
            return code;
        }
    }

    /// <summary>
    /// Starts an Orleans client host on the settings' gateways; fails (with Orleans' exception, or a
    /// <see cref="ConnectionFailedException"/> of its own) when none answers within the connect timeout, whatever listens there.
    /// </summary>
    public static async Task<IHost> ConnectAsync(CliSettings settings, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        // No default configuration sources or logging providers: the command's output is all that is printed.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = "OrleansSessions.ClientApp" });
        LastConnectionFailure? lastFailure = null;
        builder.UseOrleansClient(client =>
        {
            client.UseOrleansSessions(o =>
            {
                foreach (var gateway in settings.Gateways)
                {
                    o.Gateways.Add(gateway);
                }
                o.ClusterId = settings.ClusterId;
                o.ConnectTimeout = settings.ConnectTimeout;
                o.ResponseTimeout = settings.ResponseTimeout;
                UseCertificates(o, settings.Tls);
            });
            lastFailure = LastConnectionFailure.Track(client.Services);
            client.Services.AddSingleton<ClusterConnectionStatus>();
            client.Services.AddSingleton<IClusterConnectionStatusObserver>(sp => sp.GetRequiredService<ClusterConnectionStatus>());
        });
        var host = builder.Build();
        ExceptionDispatchInfo? abandoned;
        try
        {
            abandoned = await StartWithinConnectTimeoutAsync(host, settings, lastFailure!, started, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await DisposeQuietlyAsync(host).ConfigureAwait(false);
            throw;
        }
        if (abandoned is not null)
        {
            // The start still hangs on the endpoint: the host is left to the process's exit rather than waited for.
            _ = DisposeQuietlyAsync(host);
            abandoned.Throw();
        }
        return host;
    }

    /// <summary>
    /// Starts <paramref name="host"/>'s Orleans client, or gives up on it and returns why. Orleans bounds its own retries
    /// by the connect timeout only while connections fail; an endpoint that accepts and then sends nothing a client
    /// waits for (a silo-to-silo port, another service) holds the start forever. So once the connect timeout has passed,
    /// a failure Orleans has reported ends the start; with none reported a gateway is answering, slowly (a starved
    /// machine), and gets one response timeout more, for the start's last step, a call to it.
    /// </summary>
    private static async Task<ExceptionDispatchInfo?> StartWithinConnectTimeoutAsync(IHost host, CliSettings settings, LastConnectionFailure lastFailure, long started, CancellationToken cancellationToken)
    {
        var starting = host.StartAsync(cancellationToken);
        try
        {
            await starting.WaitAsync(Remaining(settings.ConnectTimeout, started), cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (TimeoutException) when (!starting.IsCompleted)
        {
            // Past the connect timeout: decided below.
        }
        var ended = await Task.WhenAny(starting, lastFailure.Recorded, Task.Delay(settings.ResponseTimeout, cancellationToken)).ConfigureAwait(false);
        if (ended == starting)
        {
            await starting.ConfigureAwait(false);
            return null;
        }
        cancellationToken.ThrowIfCancellationRequested();
        return lastFailure.Failure ?? ExceptionDispatchInfo.Capture(new ConnectionFailedException(string.Create(CultureInfo.InvariantCulture,
            $"No Orleans gateway answered within the connect timeout ({settings.ConnectTimeout.TotalSeconds:0.###} s); is each --gateway a silo's gateway port (Silo:GatewayPort)?")));
    }

    private static TimeSpan Remaining(TimeSpan timeout, long started)
    {
        var remaining = timeout - Stopwatch.GetElapsedTime(started);
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }

    /// <summary>Loads the --ca and --cert files; a missing or unreadable file is bad input naming the option.</summary>
    private static void UseCertificates(SessionClientOptions options, CliTls tls)
    {
        if (tls.Ca is null)
        {
            if (tls.Certificate is not null)
            {
                throw new ArgumentException("--cert needs --ca, the CA certificate that issued the silos' certificates.");
            }
            return;
        }
        try
        {
            options.CertificateAuthorities.AddRange(CertificateFiles.LoadAuthorities(tls.Ca));
        }
        catch (Exception ex) when (ex is FileNotFoundException or CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--ca '{tls.Ca}' cannot be read: {ex.Message}", ex);
        }
        if (tls.Certificate is null)
        {
            return;
        }
        try
        {
            options.Certificate = CertificateFiles.LoadWithKey(tls.Certificate, tls.Key, tls.Password);
        }
        catch (Exception ex) when (ex is FileNotFoundException or CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--cert '{tls.Certificate}' cannot be loaded (with --key and --cert-password if given): {ex.Message}", ex);
        }
    }

    private static async Task StopAsync(IHost host)
    {
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await host.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The command's result is already decided; a slow or failed goodbye to the gateway does not change it.
        }
        await DisposeQuietlyAsync(host).ConfigureAwait(false);
    }

    private static async Task DisposeQuietlyAsync(IHost host)
    {
        try
        {
            if (host is IAsyncDisposable asyncDisposable)
            {
                await WithinStopTimeoutAsync(asyncDisposable.DisposeAsync().AsTask()).ConfigureAwait(false);
            }
            else
            {
                host.Dispose();
            }
        }
        catch (Exception)
        {
            // Same as above.
        }
    }

    /// <summary>Waits for <paramref name="task"/> (a goodbye to the cluster) at most the stop timeout, so that exiting never hangs on it.</summary>
    public static async Task WithinStopTimeoutAsync(Task task)
    {
        try
        {
            await task.WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Left to the process's exit.
        }
    }

    /// <summary>A malformed --gateway is bad input, reported before any connection attempt.</summary>
    private static void ValidateGateways(CliSettings settings)
    {
        foreach (var gateway in settings.Gateways)
        {
            try
            {
                _ = GatewayEndpoints.Parse(gateway);
            }
            catch (FormatException ex)
            {
                throw new ArgumentException(ex.Message, ex);
            }
        }
    }

    /// <summary>The exit code and one-line message for a failure, both from <see cref="SessionFailure.Classify"/>.</summary>
    public static (int Code, string Message) Describe(Exception exception, CliSettings settings)
    {
        var failure = SessionFailure.Classify(exception);
        var detail = OneLine(failure.Detail);
        var message = failure.Code switch
        {
            "session_not_found" => $"not found: {detail}",
            "session_expired" => $"expired: {detail}",
            "session_closed" => $"closed: {detail}",
            "session_limit_exceeded" => $"session limit: {detail}",
            "invalid_argument" => $"bad input: {detail}",
            "data_too_large" => $"too large: {detail}",
            "version_conflict" => $"version conflict: {detail}",
            "continuation_not_allowed" => $"continuation not allowed: {detail}",
            "session_data_deleted" => $"data deleted: {detail}",
            "timeout" => $"no answer in time ({settings}): {detail}",
            "storage_unavailable" => $"storage unavailable ({settings}): {detail}",
            _ when failure.Kind == SessionFailureKind.Unavailable => $"unavailable ({settings}): {detail}{Cause(exception, failure.Detail)}",
            _ when failure.Kind == SessionFailureKind.BadInput => $"bad input ({failure.Code}): {detail}",
            _ => $"{Unwrap(exception).GetType().Name}: {detail}",
        };
        return (ExitCodes.For(failure.Kind), message);
    }

    // Orleans' connection failures say "unable to connect to any gateway"; the first non-Orleans exception below
    // says why (connection refused, unexpected cluster id), when there is one.
    private static string Cause(Exception exception, string detail)
    {
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is not OrleansException and not AggregateException)
            {
                return detail.Contains(inner.Message, StringComparison.Ordinal) ? "" : $" ({OneLine(inner.Message)})";
            }
        }
        return "";
    }

    private static Exception Unwrap(Exception exception)
        => exception is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : exception;

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
