using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Messaging;
using OrleansSessions.Client;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Commands;

/// <summary>
/// watch: prints session events as they happen until Ctrl+C; subscribes again after a reconnection, exits 5 when the
/// cluster stays out of reach. With --after it reads the durable event log from that cursor instead (0: everything
/// retained), each event with its cursor, and resumes from the last one by itself across reconnections.
/// </summary>
internal static class WatchCommand
{
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(500);

    public static Command Create(GlobalOptions global)
    {
        var user = new Option<string?>("--user", "-u") { Description = "Only this user's events." };
        var after = new Option<string?>("--after") { Description = "Read the event log after this cursor (0: everything retained), then follow it; each event is printed with its cursor (\"cursor\" with --json)." };
        var command = new Command("watch", "Prints session events (created, expiring, expired, closed, evicted) until Ctrl+C; with --json one JSON event per line.") { user, after };
        command.SetAction((parse, cancellationToken) =>
        {
            var userId = parse.GetValue(user);
            var cursor = parse.GetValue(after);
            var settings = global.Read(parse);
            return CommandRunner.RunAsync(settings, () =>
            {
                if (userId is not null)
                {
                    SessionKeys.ThrowIfInvalidUserId(userId);
                }
                if (cursor is not null && cursor != ISessionEventLogGrain.Start && !SessionEventCursor.TryParse(cursor, out _))
                {
                    throw new ArgumentException("--after: " + SessionEventCursor.Rule);
                }
            }, async (client, output, ct) =>
            {
                if (cursor is not null)
                {
                    await FollowLogAsync(client, output, cursor, userId, settings, ct).ConfigureAwait(false);
                    return ExitCodes.Ok;
                }
                var gate = new object();
                Task OnEvent(SessionEvent e)
                {
                    if (userId is null || string.Equals(e.Session.UserId, userId, StringComparison.Ordinal))
                    {
                        lock (gate)
                        {
                            if (output.Json)
                            {
                                output.WriteJson(e);
                            }
                            else
                            {
                                output.Out.WriteLine(Output.Describe(e));
                            }
                            output.Out.Flush();
                        }
                    }
                    return Task.CompletedTask;
                }

                var connection = client.ServiceProvider.GetRequiredService<ClusterConnectionStatus>();
                IAsyncDisposable? subscription = await client.SubscribeToSessionEventsAsync(OnEvent, ct).ConfigureAwait(false);
                try
                {
                    // On stderr so that stdout holds events only; scripts and tests wait for this line.
                    await output.Error.WriteLineAsync($"watching session events{(userId is null ? "" : $" of {userId}")} (Ctrl+C to stop)").ConfigureAwait(false);
                    await output.Error.FlushAsync(ct).ConfigureAwait(false);
                    while (true)
                    {
                        await connection.Lost.WaitAsync(ct).ConfigureAwait(false);
                        var previous = subscription;
                        subscription = null; // nobody to unsubscribe from until a gateway answers again
                        subscription = await ResubscribeAsync(client, OnEvent, settings, ct).ConfigureAwait(false);
                        // The cluster may have kept the old subscription (only the connections were lost): dropped now
                        // that it can be reached; until then an event may be printed twice.
                        await CommandRunner.WithinStopTimeoutAsync(previous.DisposeAsync().AsTask()).ConfigureAwait(false);
                        await output.Error.WriteLineAsync("reconnected to the cluster, watching again (events published while disconnected are missed)").ConfigureAwait(false);
                        await output.Error.FlushAsync(ct).ConfigureAwait(false);
                    }
                }
                finally
                {
                    // Ctrl+C: the unsubscribe is a call to Orleans' pub-sub grain; a slow one does not hold the exit past the stop timeout.
                    if (subscription is not null)
                    {
                        await CommandRunner.WithinStopTimeoutAsync(subscription.DisposeAsync().AsTask()).ConfigureAwait(false);
                    }
                }
            }, cancellationToken);
        });
        return command;
    }

    /// <summary>Prints the event log after <paramref name="cursor"/> and follows it until Ctrl+C.</summary>
    private static async Task FollowLogAsync(IClusterClient client, Output output, string cursor, string? userId, CliSettings settings, CancellationToken cancellationToken)
    {
        await output.Error.WriteLineAsync($"reading session events{(userId is null ? "" : $" of {userId}")} after {cursor} (Ctrl+C to stop)").ConfigureAwait(false);
        await output.Error.FlushAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await foreach (var e in client.ReadSessionEventsAsync(cursor, userId, retryFor: settings.ConnectTimeout, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (output.Json)
                {
                    output.WriteJson(new LoggedEvent(e.Type, e.Session, e.At, e.Cursor));
                }
                else
                {
                    output.Out.WriteLine($"{Output.Describe(e)}  cursor {e.Cursor}");
                }
                output.Out.Flush();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>An event as <c>watch --after --json</c> prints it: the event's JSON and its cursor.</summary>
    private sealed record LoggedEvent(SessionEventType Type, SessionInfo Session, DateTimeOffset At, string? Cursor);

    /// <summary>
    /// Subscribes again after the last gateway connection closed (a killed silo). Orleans reconnects only to send, so
    /// the subscription itself is the probe, tried until a gateway answers or the connect timeout has passed.
    /// </summary>
    /// <exception cref="ConnectionFailedException">No gateway answered within the connect timeout.</exception>
    private static async Task<IAsyncDisposable> ResubscribeAsync(IClusterClient client, Func<SessionEvent, Task> onEvent, CliSettings settings, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var remaining = settings.ConnectTimeout - Stopwatch.GetElapsedTime(started);
            if (remaining > TimeSpan.Zero)
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(remaining);
                try
                {
                    return await client.SubscribeToSessionEventsAsync(onEvent, attempt.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested
                    && (ex is OperationCanceledException || SessionFailure.Classify(ex).Kind == SessionFailureKind.Unavailable))
                {
                    // Not yet: the gateways are still down, or the cluster is still sorting out the dead silo.
                }
                remaining = settings.ConnectTimeout - Stopwatch.GetElapsedTime(started);
            }
            if (remaining <= TimeSpan.Zero)
            {
                throw new ConnectionFailedException(string.Create(CultureInfo.InvariantCulture,
                    $"lost the connection to the cluster and no gateway answered again within the connect timeout ({settings.ConnectTimeout.TotalSeconds:0.###} s); no more events can arrive."));
            }
            await Task.Delay(remaining < RetryPause ? remaining : RetryPause, cancellationToken).ConfigureAwait(false);
        }
    }
}
