using System.CommandLine;
using OrleansSessions.Client;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Commands;

/// <summary>watch: prints session events as they happen until Ctrl+C.</summary>
internal static class WatchCommand
{
    public static Command Create(GlobalOptions global)
    {
        var user = new Option<string?>("--user", "-u") { Description = "Only this user's events." };
        var command = new Command("watch", "Prints session events (created, expiring, expired, closed, evicted) until Ctrl+C; with --json one JSON event per line.") { user };
        command.SetAction((parse, cancellationToken) =>
        {
            var userId = parse.GetValue(user);
            return CommandRunner.RunAsync(global.Read(parse), () =>
            {
                if (userId is not null)
                {
                    SessionKeys.ThrowIfInvalidUserId(userId);
                }
            }, async (client, output, ct) =>
            {
                var gate = new object();
                var subscription = await client.SubscribeToSessionEventsAsync(e =>
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
                }, ct).ConfigureAwait(false);
                try
                {
                    // On stderr so that stdout holds events only; scripts and tests wait for this line.
                    await output.Error.WriteLineAsync($"watching session events{(userId is null ? "" : $" of {userId}")} (Ctrl+C to stop)").ConfigureAwait(false);
                    await output.Error.FlushAsync(ct).ConfigureAwait(false);
                    await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
                    return ExitCodes.Ok;
                }
                finally
                {
                    // Ctrl+C: the unsubscribe is a call to Orleans' pub-sub grain; a slow one does not hold the exit past the stop timeout.
                    await CommandRunner.WithinStopTimeoutAsync(subscription.DisposeAsync().AsTask()).ConfigureAwait(false);
                }
            }, cancellationToken);
        });
        return command;
    }
}
