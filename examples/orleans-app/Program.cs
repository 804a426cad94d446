using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansApp;
using OrleansSessions.Client;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

// Usage: dotnet run [siloPort] [gatewayPort]  (defaults 11311 and 30300)
var siloPort = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 11311;
var gatewayPort = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30300;

// The silo: the app's own clustering, storage, reminders and grains, plus the session grains.
var siloHost = Host.CreateApplicationBuilder();
siloHost.Logging.SetMinimumLevel(LogLevel.Warning);
siloHost.UseOrleans(silo =>
{
    silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: "my-app", clusterId: "my-cluster");
    silo.AddMemoryGrainStorageAsDefault();
    silo.UseInMemoryReminderService();
    silo.AddOrleansSessions();
});
using var silo = siloHost.Build();
await silo.StartAsync();

// A client, as a chat router in another process would have it.
var clientHost = Host.CreateApplicationBuilder();
clientHost.Logging.SetMinimumLevel(LogLevel.Warning);
clientHost.UseOrleansClient(client => client.UseOrleansSessions(o =>
{
    o.Gateways.Add($"127.0.0.1:{gatewayPort}");
    o.ServiceId = "my-app";
    o.ClusterId = "my-cluster";
}));
using var client = clientHost.Build();
await client.StartAsync();
var grains = client.Services.GetRequiredService<IClusterClient>();

var created = new TaskCompletionSource<SessionEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
var subscription = await client.Services.GetRequiredService<ISessionEvents>().SubscribeAsync(e =>
{
    if (e.Type == SessionEventType.Created)
    {
        created.TrySetResult(e);
    }
    return Task.CompletedTask;
});

Console.WriteLine(await grains.GetGrain<IGreeterGrain>("app").GreetAsync("alice"));

var session = await grains.GetGrain<IUserSessionsGrain>("alice").CreateSessionAsync();
Console.WriteLine($"created {session.SessionId} for {session.UserId}, expires {session.ExpiresAt:O}");
var sessionGrain = grains.GetGrain<ISessionGrain>(session.SessionId);
var touched = await sessionGrain.TouchAsync();
Console.WriteLine($"touched {touched.SessionId}: active={await sessionGrain.IsActiveAsync()}");
var closed = await sessionGrain.CloseAsync();
Console.WriteLine($"closed {closed.SessionId}: status={closed.Status}, reason={closed.EndReason}");
var history = await grains.GetGrain<IUserSessionsGrain>("alice").GetHistoryAsync(10);
Console.WriteLine($"history of alice: {history.Count} ended session(s)");
var createdEvent = await created.Task.WaitAsync(TimeSpan.FromSeconds(10));
Console.WriteLine($"event {createdEvent.Type} for {createdEvent.Session.SessionId}");
await subscription.DisposeAsync();

await client.StopAsync();
await silo.StopAsync();
