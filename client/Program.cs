using System.CommandLine;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.ClientApp.Commands;

var global = new GlobalOptions();
var root = new RootCommand("OrleansSessions client: sessions, chat router, live events, demo and load against a silo gateway.");
global.AddTo(root);
foreach (var command in SessionCommands.Create(global))
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
    // One line per error, never a stack trace; the last one says where the usage is.
    for (var i = 0; i < parse.Errors.Count; i++)
    {
        var hint = i == parse.Errors.Count - 1 ? " (run with --help for usage)" : "";
        await Console.Error.WriteLineAsync($"error: bad input: {parse.Errors[i].Message}{hint}");
    }
    return ExitCodes.BadInput;
}
return await parse.InvokeAsync();
