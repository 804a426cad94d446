using System.Security.Cryptography;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Connections.Security;
using OrleansSessions.Client.Security;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// Mutual TLS on the Orleans ports (Orleans.Connections.Security): every connection to the silo port, from the silo
/// to its peers and to the gateway port is TLS, and the other side must present a certificate chaining to
/// Security:CaCertificate. A silo port peer must hold a silo certificate (server and client authentication); a
/// gateway client one that allows client authentication. A connection that fails the handshake is closed before
/// Orleans reads a byte of it.
/// </summary>
internal static class SiloTls
{
    /// <summary>What a silo's certificate must allow: it answers its peers and calls them.</summary>
    public static readonly Oid[] PeerUsages = [CertificateAuthorityValidator.ServerAuthentication, CertificateAuthorityValidator.ClientAuthentication];

    private static readonly Oid[] ClientUsages = [CertificateAuthorityValidator.ClientAuthentication];

    /// <summary>
    /// Installs TLS on the three connection kinds; <paramref name="handshakeTimeout"/> (Silo:HandshakeTimeout) bounds
    /// each TLS handshake, and <see cref="HandshakeTimeout"/> bounds an inbound connection's whole handshake with it.
    /// </summary>
    public static void UseClusterTls(this ISiloBuilder silo, SiloCertificates certificates, TimeSpan handshakeTimeout)
    {
        silo.Configure<SiloConnectionOptions>(connections =>
        {
            connections.ConfigureSiloInboundConnection(builder => builder.UseServerTls(Options(builder, certificates, PeerUsages, handshakeTimeout)));
            connections.ConfigureGatewayInboundConnection(builder => builder.UseServerTls(Options(builder, certificates, ClientUsages, handshakeTimeout)));
            connections.ConfigureSiloOutboundConnection(builder => builder.UseClientTls(Options(builder, certificates, PeerUsages, handshakeTimeout)));
        });
    }

    private static TlsOptions Options(IConnectionBuilder builder, SiloCertificates certificates, Oid[] remoteUsages, TimeSpan handshakeTimeout)
    {
        var logger = builder.ApplicationServices.GetService<ILoggerFactory>()?.CreateLogger(typeof(SiloTls).FullName!);
        var validator = new CertificateAuthorityValidator(certificates.Authorities, remoteUsages, logger);
        return new TlsOptions
        {
            LocalCertificate = certificates.Certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = validator.Validate,
            HandshakeTimeout = handshakeTimeout,
        };
    }
}
