using System.CommandLine;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Commands;

/// <summary>chat: one message through <see cref="ChatRouter"/>, the replacement of the Python TheaRouter; prints {"reply", "session"}.</summary>
internal static class ChatCommand
{
    public static Command Create(GlobalOptions global)
    {
        var userId = new Argument<string>("userId") { Description = "The user sending the message." };
        var message = new Argument<string>("message") { Description = "The message." };
        var language = new Option<string>("--lang") { Description = "Reply language.", DefaultValueFactory = _ => "en" };
        language.AcceptOnlyFromAmong("en", "es");
        var continueExpired = new Option<bool>("--continue")
        {
            Description = "When the user's session expired, continue its conversation in the new session (needs the silo's Sessions:DataRetention > 0; else a plain new session).",
        };
        var command = new Command("chat", "Sends a message as the chat router would: answers in the user's live session from its recent conversation and appends both to it, or opens a new one when it ended.")
        {
            userId, message, language, continueExpired,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var user = parse.GetRequiredValue(userId);
            var text = parse.GetRequiredValue(message);
            var options = new ChatRouterOptions { Language = parse.GetValue(language) ?? "en", ContinueExpiredSessions = parse.GetValue(continueExpired) };
            return CommandRunner.RunAsync(global.Read(parse), () => SessionKeys.ThrowIfInvalidUserId(user), async (client, output, ct) =>
            {
                var reply = await new ChatRouter(client, options).HandleRequestAsync(user, text, ct).ConfigureAwait(false);
                if (output.Json)
                {
                    output.WriteJson(reply);
                }
                else
                {
                    output.Line(reply.Reply);
                    output.Line("  " + Output.Describe(reply.Session));
                }
                return ExitCodes.Ok;
            }, cancellationToken);
        });
        return command;
    }
}
