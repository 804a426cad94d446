using System.CommandLine;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Commands;

/// <summary>create, status, touch, close, sessions, history: one grain call each (sessions: one per page).</summary>
internal static class SessionCommands
{
    public static IEnumerable<Command> Create(GlobalOptions global)
    {
        yield return CreateCommand(global);
        yield return SessionCommand(global, "status", "Shows a session (also after it ended).", async (client, sessionId, output) =>
        {
            output.Session(await client.GetGrain<ISessionGrain>(sessionId).GetAsync().ConfigureAwait(false));
        });
        yield return SessionCommand(global, "touch", "Records activity on a session, sliding its idle deadline.", async (client, sessionId, output) =>
        {
            output.Session(await client.GetGrain<ISessionGrain>(sessionId).TouchAsync().ConfigureAwait(false));
        });
        yield return SessionCommand(global, "close", "Logs a session out.", async (client, sessionId, output) =>
        {
            output.Session(await client.GetGrain<ISessionGrain>(sessionId).CloseAsync().ConfigureAwait(false));
        });
        yield return UserCommand(global, "sessions", "Lists a user's live sessions, oldest first.", async (client, userId, output) =>
        {
            output.Sessions(await client.GetGrain<IUserSessionsGrain>(userId).GetAllActiveSessionsAsync().ConfigureAwait(false), $"{userId} has no live session.");
        });
        yield return History(global);
    }

    private static Command CreateCommand(GlobalOptions global)
    {
        var userId = new Argument<string>("userId") { Description = "The user (1..128 characters, no control characters)." };
        var label = new Option<string[]>("--label")
        {
            Description = "A label as key=value (channel, device, locale...); repeat it for more (at most 16).",
            AllowMultipleArgumentsPerToken = false,
        };
        var idle = new Option<string?>("--idle") { Description = "This session's idle timeout, hh:mm:ss or ISO-8601 (PT5M); at most the silo's Sessions:MaxIdleTimeout." };
        var absolute = new Option<string?>("--absolute") { Description = "This session's absolute timeout, hh:mm:ss or ISO-8601 (PT8H); at most the silo's Sessions:MaxAbsoluteTimeout." };
        var continueFrom = new Option<string?>("--continue-from") { Description = "An ended session of the same user whose data the silo still keeps: the new session starts with its attributes, labels and newest messages." };
        var command = new Command("create", "Creates a session for a user.") { userId, label, idle, absolute, continueFrom };
        command.SetAction((parse, cancellationToken) =>
        {
            var user = parse.GetRequiredValue(userId);
            var labels = parse.GetValue(label) ?? [];
            var idleText = parse.GetValue(idle);
            var absoluteText = parse.GetValue(absolute);
            var previous = parse.GetValue(continueFrom);
            SessionCreateRequest? request = null;
            return CommandRunner.RunAsync(global.Read(parse), () =>
            {
                SessionKeys.ThrowIfInvalidUserId(user);
                if (previous is not null && !SessionKeys.IsValidSessionId(previous))
                {
                    throw new ArgumentException("--continue-from: " + SessionKeys.SessionIdRule);
                }
                if (labels.Length > 0 || idleText is not null || absoluteText is not null || previous is not null)
                {
                    request = new SessionCreateRequest
                    {
                        Labels = labels.Length > 0 ? DataArguments.Labels(labels) : null,
                        IdleTimeout = DataArguments.Duration(idleText, "--idle"),
                        AbsoluteTimeout = DataArguments.Duration(absoluteText, "--absolute"),
                        ContinueFrom = previous,
                    };
                }
            }, async (client, output, _) =>
            {
                var sessions = client.GetGrain<IUserSessionsGrain>(user);
                output.Session(request is null
                    ? await sessions.CreateSessionAsync().ConfigureAwait(false)
                    : await sessions.CreateSessionAsync(request).ConfigureAwait(false));
                return ExitCodes.Ok;
            }, cancellationToken);
        });
        return command;
    }

    private static Command History(GlobalOptions global)
    {
        var userId = new Argument<string>("userId") { Description = "The user." };
        var limit = NumericOptions.Int("--limit", "-n", "The most sessions to show.", 20, v => v >= 0, "--limit must be >= 0.");
        var command = new Command("history", "Lists a user's ended sessions, newest first.") { userId, limit };
        command.SetAction((parse, cancellationToken) =>
        {
            var user = parse.GetRequiredValue(userId);
            var count = parse.GetValue(limit);
            return CommandRunner.RunAsync(global.Read(parse), () => SessionKeys.ThrowIfInvalidUserId(user), async (client, output, _) =>
            {
                output.Sessions(await client.GetGrain<IUserSessionsGrain>(user).GetHistoryAsync(count).ConfigureAwait(false), $"{user} has no ended session.");
                return ExitCodes.Ok;
            }, cancellationToken);
        });
        return command;
    }

    private static Command UserCommand(GlobalOptions global, string name, string description, Func<IClusterClient, string, Output, Task> action)
    {
        var userId = new Argument<string>("userId") { Description = "The user (1..128 characters, no control characters)." };
        var command = new Command(name, description) { userId };
        command.SetAction((parse, cancellationToken) =>
        {
            var user = parse.GetRequiredValue(userId);
            return CommandRunner.RunAsync(global.Read(parse), () => SessionKeys.ThrowIfInvalidUserId(user), async (client, output, _) =>
            {
                await action(client, user, output).ConfigureAwait(false);
                return ExitCodes.Ok;
            }, cancellationToken);
        });
        return command;
    }

    private static Command SessionCommand(GlobalOptions global, string name, string description, Func<IClusterClient, string, Output, Task> action)
    {
        var sessionId = new Argument<string>("sessionId") { Description = "The session id (sess_ and a UUIDv4)." };
        var command = new Command(name, description) { sessionId };
        command.SetAction((parse, cancellationToken) =>
        {
            var session = parse.GetRequiredValue(sessionId);
            return CommandRunner.RunAsync(global.Read(parse), () => SessionKeys.ThrowIfInvalidSessionId(session), async (client, output, _) =>
            {
                await action(client, session, output).ConfigureAwait(false);
                return ExitCodes.Ok;
            }, cancellationToken);
        });
        return command;
    }
}
