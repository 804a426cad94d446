using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Messaging;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.Sessions;
using Spectre.Console;

namespace OrleansSessions.ClientApp.Commands;

/// <summary>
/// load: creates sessions for many users, then touches them from many concurrent callers, and reports throughput and
/// latency percentiles. A simple closed-loop load: each caller waits for its answer before the next call. Touches go
/// through the client's <see cref="SessionToucher"/> (concurrent touches share calls to the silos), or with --direct
/// as one session grain call each.
/// </summary>
internal static class LoadCommand
{
    public static Command Create(GlobalOptions global)
    {
        var users = NumericOptions.Int("--users", null, "Distinct users.", 100, v => v >= 1, "--users must be >= 1.");
        var sessions = NumericOptions.Int("--sessions", null, "Sessions per user.", 1, v => v >= 1, "--sessions must be >= 1.");
        var touches = NumericOptions.Int("--touches", null, "Touches per session (ignored with --duration).", 10, v => v >= 0, "--touches must be >= 0.");
        var concurrency = NumericOptions.Int("--concurrency", "-c", "Concurrent callers.", 32, v => v >= 1, "--concurrency must be >= 1.");
        var duration = NumericOptions.Double("--duration", null, "Seconds to keep touching (0: --touches per session instead).", 0, v => v is >= 0 and <= 86_400,
            "--duration must be between 0 and 86400 seconds.");
        var direct = new Option<bool>("--direct") { Description = "One session grain call per touch, instead of the client's coalescing SessionToucher." };
        var command = new Command("load", "Creates sessions and touches them concurrently; reports throughput and p50/p99 latency.")
        {
            users, sessions, touches, concurrency, duration, direct,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var settings = new LoadSettings(parse.GetValue(users), parse.GetValue(sessions), parse.GetValue(touches), parse.GetValue(concurrency), TimeSpan.FromSeconds(parse.GetValue(duration)), parse.GetValue(direct));
            var cli = global.Read(parse);
            settings = settings with { UnansweredLimit = cli.ConnectTimeout };
            return CommandRunner.RunAsync(cli, null, (client, output, ct) => RunAsync(client, output, settings, ct), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(IClusterClient client, Output output, LoadSettings settings, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var totalSessions = settings.Users * settings.Sessions;
        var sessionIds = new string[totalSessions];
        var create = new Phase("create", totalSessions);
        var touch = new Phase("touch", settings.Duration > TimeSpan.Zero ? 0 : (long)totalSessions * settings.Touches);
        var toucher = client.ServiceProvider.GetRequiredService<SessionToucher>();

        async Task RunPhasesAsync(Action<Phase>? started, Action? tick)
        {
            started?.Invoke(create);
            await create.RunAsync(settings.Concurrency, async i =>
            {
                var user = $"load-{run}-{i % settings.Users}";
                sessionIds[i] = (await client.GetGrain<IUserSessionsGrain>(user).CreateSessionAsync().ConfigureAwait(false)).SessionId;
            }, settings, tick, cancellationToken).ConfigureAwait(false);
            started?.Invoke(touch);
            await touch.RunAsync(settings.Concurrency, async i =>
            {
                try
                {
                    var sessionId = sessionIds[i % totalSessions];
                    _ = settings.Direct
                        ? await client.GetGrain<ISessionGrain>(sessionId).TouchAsync().ConfigureAwait(false)
                        : await toucher.TouchAsync(sessionId).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is SessionExpiredException or SessionClosedException)
                {
                    // A short idle timeout on the silo: the call was still answered, exactly.
                }
            }, settings, tick, cancellationToken).ConfigureAwait(false);
        }

        if (output.Json)
        {
            await RunPhasesAsync(null, null).ConfigureAwait(false);
        }
        else
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var tasks = new Dictionary<Phase, ProgressTask>();
                    ProgressTask? current = null;
                    Phase? currentPhase = null;
                    await RunPhasesAsync(
                        phase =>
                        {
                            if (current is not null && currentPhase is not null)
                            {
                                current.Value = current.MaxValue;
                            }
                            currentPhase = phase;
                            current = ctx.AddTask(phase.Name, maxValue: phase.Total > 0 ? phase.Total : settings.Duration.TotalSeconds);
                            tasks[phase] = current;
                        },
                        () =>
                        {
                            if (current is not null && currentPhase is not null)
                            {
                                current.Value = currentPhase.Total > 0 ? currentPhase.Completed : Math.Min(currentPhase.Elapsed.TotalSeconds, current.MaxValue);
                            }
                        }).ConfigureAwait(false);
                    if (current is not null)
                    {
                        current.Value = current.MaxValue;
                    }
                }).ConfigureAwait(false);
        }

        var report = new
        {
            users = settings.Users,
            sessions = totalSessions,
            concurrency = settings.Concurrency,
            direct = settings.Direct,
            create = create.Summary(),
            touch = touch.Summary(),
        };
        if (output.Json)
        {
            output.WriteJson(report);
        }
        else
        {
            foreach (var phase in new[] { create, touch })
            {
                var s = phase.Summary();
                output.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{s.Name,-6} {s.Calls,9} calls in {s.Seconds,7:0.00} s = {s.PerSecond,10:N0}/s  p50 {s.P50Ms,7:0.000} ms  p99 {s.P99Ms,7:0.000} ms  errors {s.Errors}"));
            }
        }
        return create.Errors + touch.Errors > 0 ? ExitCodes.Failure : ExitCodes.Ok;
    }

    private sealed record LoadSettings(int Users, int Sessions, int Touches, int Concurrency, TimeSpan Duration, bool Direct)
    {
        /// <summary>How long calls may go unanswered, failing as unavailable, before the run stops (--connect-timeout).</summary>
        public TimeSpan UnansweredLimit { get; init; } = TimeSpan.FromSeconds(5);
    }

    private sealed record PhaseSummary(string Name, long Calls, long Errors, double Seconds, double PerSecond, double P50Ms, double P99Ms, string? FirstError);

    /// <summary>
    /// One phase: a fixed number of calls (Total &gt; 0) or calls until a duration ends, with every latency kept. It stops
    /// with a <see cref="ConnectionFailedException"/> when calls fail as unavailable and none has been answered for the
    /// settings' <see cref="LoadSettings.UnansweredLimit"/> (every gateway gone): a silo failover, where some calls
    /// are still answered, goes on.
    /// </summary>
    private sealed class Phase(string name, long total)
    {
        private readonly Stopwatch _stopwatch = new();
        private long _next = -1;
        private long _completed;
        private long _errors;
        private string? _firstError;
        private long _lastAnswer;
        private long _unavailableSinceAnswer;
        private double[] _latencies = [];

        public string Name => name;

        public long Total => total;

        public long Completed => Interlocked.Read(ref _completed);

        public long Errors => Interlocked.Read(ref _errors);

        public TimeSpan Elapsed => _stopwatch.Elapsed;

        public async Task RunAsync(int concurrency, Func<long, Task> call, LoadSettings settings, Action? tick, CancellationToken cancellationToken)
        {
            var perWorker = new List<double>[concurrency];
            _stopwatch.Start();
            Interlocked.Exchange(ref _lastAnswer, Stopwatch.GetTimestamp());
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var until = total > 0 ? TimeSpan.MaxValue : settings.Duration;
            var workers = new Task[concurrency];
            for (var w = 0; w < concurrency; w++)
            {
                var latencies = perWorker[w] = [];
                workers[w] = Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        var i = Interlocked.Increment(ref _next);
                        if ((total > 0 && i >= total) || (total == 0 && _stopwatch.Elapsed >= until))
                        {
                            return;
                        }
                        var started = Stopwatch.GetTimestamp();
                        try
                        {
                            await call(i).ConfigureAwait(false);
                            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                            Answered();
                        }
                        catch (Exception ex) when (ex is not OperationCanceledException)
                        {
                            Interlocked.Increment(ref _errors);
                            Interlocked.CompareExchange(ref _firstError, $"{ex.GetType().Name}: {ex.Message}", null);
                            if (SessionFailure.Classify(ex).Kind == SessionFailureKind.Unavailable)
                            {
                                Interlocked.Increment(ref _unavailableSinceAnswer);
                            }
                            else
                            {
                                Answered(); // the cluster answered, with an error
                            }
                        }
                        Interlocked.Increment(ref _completed);
                    }
                }, stop.Token);
            }
            var all = Task.WhenAll(workers);
            while (!all.IsCompleted)
            {
                tick?.Invoke();
                await Task.WhenAny(all, Task.Delay(100, cancellationToken)).ConfigureAwait(false);
                var unanswered = Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastAnswer));
                if (unanswered > settings.UnansweredLimit && Interlocked.Read(ref _unavailableSinceAnswer) > 0)
                {
                    // The calls still in flight end at their response timeout; nobody waits for them.
                    await stop.CancelAsync().ConfigureAwait(false);
                    throw new ConnectionFailedException(string.Create(CultureInfo.InvariantCulture,
                        $"no {name} call answered for {unanswered.TotalSeconds:0.0} s (--connect-timeout {settings.UnansweredLimit.TotalSeconds:0.###} s); stopped after {Completed} calls, {Errors} errors, first: {_firstError}"));
                }
            }
            await all.ConfigureAwait(false);
            _stopwatch.Stop();
            tick?.Invoke();
            _latencies = perWorker.SelectMany(l => l).ToArray();
            Array.Sort(_latencies);
        }

        private void Answered()
        {
            Interlocked.Exchange(ref _lastAnswer, Stopwatch.GetTimestamp());
            Interlocked.Exchange(ref _unavailableSinceAnswer, 0);
        }

        public PhaseSummary Summary()
        {
            var seconds = _stopwatch.Elapsed.TotalSeconds;
            var calls = Completed;
            return new PhaseSummary(name, calls, Errors, Math.Round(seconds, 3), seconds > 0 ? Math.Round(calls / seconds, 1) : 0,
                Math.Round(Percentile(0.50), 3), Math.Round(Percentile(0.99), 3), _firstError);
        }

        private double Percentile(double p)
        {
            if (_latencies.Length == 0)
            {
                return 0;
            }
            var index = (int)Math.Ceiling(p * _latencies.Length) - 1;
            return _latencies[Math.Clamp(index, 0, _latencies.Length - 1)];
        }
    }
}
