using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansSessions.Hosting;
using OrleansSessions.Runtime.Hosting;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// A silo as its own process (UseOrleansSessionsSilo + AddSessionGrains, PostgreSQL when --Storage:Provider=postgres),
/// configured by "--Section:Key=value" arguments. Prints "READY" once active; runs until killed or SIGTERM.
/// </summary>
internal static class SiloMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddCommandLine(args);
        var configuration = builder.Configuration;
        builder.UseOrleansSessionsSilo(silo =>
        {
            silo.AddSessionGrains();
            if (string.Equals(configuration["Storage:Provider"], "postgres", StringComparison.OrdinalIgnoreCase))
            {
                silo.UsePostgreSql();
            }
        });
        await using var app = builder.Build();
        await app.StartAsync();
        await app.Services.GetRequiredService<Silo>().Started;
        Console.WriteLine("READY");
        await app.WaitForShutdownAsync();
        return 0;
    }
}
