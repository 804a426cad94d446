using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.Runtime.Membership;

namespace OrleansSessions.TestingHost;

/// <summary>One in-process silo of a <see cref="TestCluster"/>.</summary>
public sealed class TestSilo
{
    internal TestSilo(WebApplication app, int siloPort, int gatewayPort, int httpPort)
    {
        App = app;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        HttpPort = httpPort;
        Handle = app.Services.GetRequiredService<Silo>();
    }

    internal WebApplication App { get; }

    /// <summary>The silo's services.</summary>
    public IServiceProvider Services => App.Services;

    /// <summary>The runtime handle (activations, membership, collection).</summary>
    public Silo Handle { get; }

    /// <summary>The silo's address.</summary>
    public SiloAddress Address => Handle.Address;

    /// <summary>The silo-to-silo port.</summary>
    public int SiloPort { get; }

    /// <summary>The gateway port.</summary>
    public int GatewayPort { get; }

    /// <summary>The HTTP port, or 0.</summary>
    public int HttpPort { get; }

    /// <summary>The number of activations on this silo.</summary>
    public int ActivationCount => Handle.ActivationCount;

    /// <summary>False once the silo was stopped or killed.</summary>
    public bool IsActive { get; internal set; } = true;

    /// <inheritdoc />
    public override string ToString() => Address.ToString();
}
