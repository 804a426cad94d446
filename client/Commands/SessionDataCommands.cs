using System.CommandLine;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Commands;

/// <summary>attrs, messages, say: a session's data (attributes and conversation), one grain call each.</summary>
internal static class SessionDataCommands
{
    private static readonly string[] Roles = [MessageRoles.User, MessageRoles.Assistant, MessageRoles.System, MessageRoles.Tool];

    public static IEnumerable<Command> Create(GlobalOptions global)
    {
        yield return Attributes(global);
        yield return Messages(global);
        yield return Say(global);
    }

    private static Argument<string> SessionIdArgument() => new("sessionId") { Description = "The session id (sess_ and a UUIDv4)." };

    private static Command Attributes(GlobalOptions global)
    {
        var sessionId = SessionIdArgument();
        var action = new Argument<string?>("action")
        {
            Description = "none: show the attributes; set key=value...: set them (the value as JSON when it is valid JSON, else as a string; null removes); rm key...: remove them.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        action.AcceptOnlyFromAmong("set", "rm");
        var items = new Argument<string[]>("items") { Description = "set: key=value pairs; rm: keys.", Arity = ArgumentArity.ZeroOrMore };
        var ifVersion = NumericOptions.OptionalLong("--if-version", null,
            "With set or rm: change only if the session's data version is this one (else exit 4, version_conflict, and nothing changes).",
            v => v >= 0, "--if-version must be >= 0.");
        var command = new Command("attrs", "Shows, sets or removes a session's attributes; a change is activity (it slides the idle deadline).")
        {
            sessionId, action, items, ifVersion,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var session = parse.GetRequiredValue(sessionId);
            var verb = parse.GetValue(action);
            var values = parse.GetValue(items) ?? [];
            var version = parse.GetValue(ifVersion);
            Dictionary<string, string?>? changes = null;
            return CommandRunner.RunAsync(global.Read(parse), () =>
            {
                SessionKeys.ThrowIfInvalidSessionId(session);
                switch (verb)
                {
                    case null when values.Length > 0:
                        throw new ArgumentException("attrs takes set key=value... or rm key... after the session id.");
                    case null when version is not null:
                        throw new ArgumentException("--if-version goes with set or rm.");
                    case not null when values.Length == 0:
                        throw new ArgumentException($"attrs {verb} needs at least one {(verb == "set" ? "key=value" : "key")}.");
                    case "set":
                        changes = DataArguments.AttributeChanges(values);
                        break;
                    case "rm":
                        changes = DataArguments.Removals(values);
                        break;
                    default:
                        break;
                }
            }, async (client, output, _) =>
            {
                var grain = client.GetGrain<ISessionGrain>(session);
                var attributes = changes is null
                    ? await grain.GetAttributesAsync().ConfigureAwait(false)
                    : await grain.UpdateAttributesAsync(changes, version).ConfigureAwait(false);
                output.Attributes(session, attributes);
                return ExitCodes.Ok;
            }, cancellationToken);
        });
        return command;
    }

    private static Command Messages(GlobalOptions global)
    {
        var sessionId = SessionIdArgument();
        var limit = NumericOptions.OptionalInt("--limit", "-n", $"The most messages to show (1 to {SessionPage.MaxLimit}): the newest, or with --after the first after it (default: all held).",
            v => v is >= 1 and <= SessionPage.MaxLimit, $"--limit must be from 1 to {SessionPage.MaxLimit}.");
        var after = NumericOptions.OptionalLong("--after", null, "Only messages with a larger id than this one.", v => v >= 0, "--after must be a message id >= 0.");
        var command = new Command("messages", "Shows a session's conversation, oldest first (reading is not activity).") { sessionId, limit, after };
        command.SetAction((parse, cancellationToken) =>
        {
            var session = parse.GetRequiredValue(sessionId);
            var count = parse.GetValue(limit);
            var cursor = parse.GetValue(after);
            return CommandRunner.RunAsync(global.Read(parse), () => SessionKeys.ThrowIfInvalidSessionId(session), async (client, output, _) =>
            {
                var conversation = await client.GetGrain<ISessionGrain>(session)
                    .GetMessagesAsync(count, cursor).ConfigureAwait(false);
                output.Conversation(session, conversation);
                return ExitCodes.Ok;
            }, cancellationToken);
        });
        return command;
    }

    private static Command Say(GlobalOptions global)
    {
        var sessionId = SessionIdArgument();
        var role = new Argument<string>("role") { Description = "user, assistant, system or tool." };
        role.AcceptOnlyFromAmong(Roles);
        var text = new Argument<string>("text") { Description = "The message." };
        var command = new Command("say", "Appends a message to a session's conversation; it is activity (it slides the idle deadline).") { sessionId, role, text };
        command.SetAction((parse, cancellationToken) =>
        {
            var session = parse.GetRequiredValue(sessionId);
            var who = parse.GetRequiredValue(role);
            var words = parse.GetRequiredValue(text);
            return CommandRunner.RunAsync(global.Read(parse), () => SessionKeys.ThrowIfInvalidSessionId(session), async (client, output, _) =>
            {
                var appended = await client.GetGrain<ISessionGrain>(session).AppendMessagesAsync([new NewSessionMessage(who, words)]).ConfigureAwait(false);
                output.Appended(appended);
                return ExitCodes.Ok;
            }, cancellationToken);
        });
        return command;
    }
}
