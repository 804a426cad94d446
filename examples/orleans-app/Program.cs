using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansApp;
using OrleansSessions.Client;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

// Usage: dotnet run [siloPort] [gatewayPort] [httpPort]  (defaults 11311, 30300 and 8380)
var siloPort = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 11311;
var gatewayPort = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30300;
var httpPort = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 8380;

// The app: an ASP.NET Core app hosting a silo with its own clustering, storage, reminders and grains, plus the
// session grains, and the sessions' HTTP API and dashboard under /sessions.
var web = WebApplication.CreateBuilder();
web.Logging.SetMinimumLevel(LogLevel.Warning);
web.WebHost.UseUrls($"http://127.0.0.1:{httpPort}");
web.UseOrleans(silo =>
{
    silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: "my-app", clusterId: "my-cluster");
    silo.AddMemoryGrainStorageAsDefault();
    silo.UseInMemoryReminderService();
    silo.AddOrleansSessions();
});
web.Services.AddOrleansSessionsApi();
var silo = web.Build();
silo.MapGet("/", () => "my app");
silo.MapOrleansSessionsApi("/sessions");
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

// The same sessions over the app's HTTP API.
using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/sessions/") };
using var response = await http.PostAsync("api/sessions", new StringContent("{\"userId\":\"bob\"}", System.Text.Encoding.UTF8, "application/json"));
Console.WriteLine($"HTTP POST /sessions/api/sessions: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
Console.WriteLine($"HTTP GET /sessions/api/users/alice/history: {await http.GetStringAsync("api/users/alice/history")}");
var dashboard = await http.GetStringAsync("");
Console.WriteLine($"HTTP GET /sessions/: dashboard {(dashboard.Contains("<base href=\"/sessions/\">", StringComparison.Ordinal) ? "served under /sessions/" : "missing")}");

await client.StopAsync();
await silo.StopAsync();
await silo.DisposeAsync();
