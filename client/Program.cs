using System.CommandLine;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.ClientApp.Commands;

var global = new GlobalOptions();
var root = new RootCommand("OrleansSessions client: sessions, their data (attributes, conversation), chat router, live events, demo and load against a silo gateway.");
global.AddTo(root);
foreach (var command in SessionCommands.Create(global))
{
    root.Add(command);
}
foreach (var command in SessionDataCommands.Create(global))
{
    root.Add(command);
}
root.Add(ChatCommand.Create(global));
root.Add(WatchCommand.Create(global));
root.Add(DemoCommand.Create(global));
root.Add(LoadCommand.Create(global));

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // One line whatever the number of errors, never a stack trace, ending with where the usage is.
    var messages = string.Join("; ", parse.Errors.Select(e => e.Message.ReplaceLineEndings(" ")));
    await Console.Error.WriteLineAsync($"error: bad input: {messages} (run with --help for usage)");
    return ExitCodes.BadInput;
}
return await parse.InvokeAsync();
