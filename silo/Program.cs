using OrleansSessions.SiloHost.Hosting;

IConfiguration? configuration = null;
try
{
    // Content root = the output folder, so appsettings.json is found from any working directory.
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
    configuration = builder.Configuration;
    builder.AddSessionSilo(args);
    var app = builder.Build();
    app.MapSessionSilo();
    // Ctrl+C and SIGTERM stop the host; Orleans then stops the silo gracefully: it tells its clients to use another
    // gateway, deactivates (persisting) every grain and leaves membership.
    await app.RunAsync();
    return 0;
}
catch (Exception ex) when (StartupFailure.TryDescribe(ex, configuration, out var message))
{
    await Console.Error.WriteLineAsync($"silo: {message}");
    return 1;
}
catch (Exception ex)
{
    await Console.Error.WriteLineAsync($"silo: failed: {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}");
    return 1;
}
