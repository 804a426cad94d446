using System.CommandLine;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Commands;

/// <summary>chat: one message through <see cref="ChatRouter"/>, the replacement of the Python TheaRouter.</summary>
internal static class ChatCommand
{
    public static Command Create(GlobalOptions global)
    {
        var userId = new Argument<string>("userId") { Description = "The user sending the message." };
        var message = new Argument<string>("message") { Description = "The message." };
        var language = new Option<string>("--lang") { Description = "Reply language.", DefaultValueFactory = _ => "en" };
        language.AcceptOnlyFromAmong("en", "es");
        var command = new Command("chat", "Sends a message as the chat router would: answers in the user's live session, or opens a new one when it expired.") { userId, message, language };
        command.SetAction((parse, cancellationToken) =>
        {
            var user = parse.GetRequiredValue(userId);
            var text = parse.GetRequiredValue(message);
            var lang = parse.GetValue(language) ?? "en";
            return CommandRunner.RunAsync(global.Read(parse), () => SessionKeys.ThrowIfInvalidUserId(user), async (client, output, ct) =>
            {
                var reply = await new ChatRouter(client, lang).HandleRequestAsync(user, text, ct).ConfigureAwait(false);
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
