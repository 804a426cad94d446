using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace OrleansSessions.Silo.Tests;

/// <summary>
/// The silo host (silo/Program.cs) in the test process on the in-memory default with default session options: its
/// HTTP API served by TestServer (<see cref="WebApplicationFactory{TEntryPoint}"/>), its Orleans silo and gateway on
/// free ports. For tests of the API's behaviour; tests of the process itself (exit codes, kill, limits, TLS) start a
/// <see cref="SiloProcess"/>.
/// </summary>
public sealed class SiloAppFixture : IAsyncLifetime
{
    private readonly SiloAppFactory _factory = new();

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The silo address /healthz reports.</summary>
    public string Address { get; private set; } = "";

    public int GatewayPort => _factory.GatewayPort;

    /// <summary>Silo:HttpPort: the port the API reports; TestServer serves the requests, nothing listens on it.</summary>
    public int HttpPort => _factory.HttpPort;

    public async Task InitializeAsync()
    {
        Http = _factory.CreateClient();
        using var health = await Http.GetAsync(new Uri("/healthz", UriKind.Relative));
        health.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
        Address = body.RootElement.GetProperty("silo").GetString() ?? "";
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        await _factory.DisposeAsync();
    }

    private sealed class SiloAppFactory : WebApplicationFactory<Program>
    {
        public int SiloPort { get; } = Ports.Free();

        public int GatewayPort { get; } = Ports.Free();

        public int HttpPort { get; } = Ports.Free();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            // Host settings reach Program as "--key=value" arguments, ahead of its own configuration sources.
            builder.UseSetting("Silo:SiloPort", SiloPort.ToString(CultureInfo.InvariantCulture));
            builder.UseSetting("Silo:GatewayPort", GatewayPort.ToString(CultureInfo.InvariantCulture));
            builder.UseSetting("Silo:HttpPort", HttpPort.ToString(CultureInfo.InvariantCulture));
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SiloAppCollection : ICollectionFixture<SiloAppFixture>
{
    public const string Name = "silo host in the test process";
}
