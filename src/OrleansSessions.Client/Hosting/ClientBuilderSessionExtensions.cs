using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Connections.Security;
using OrleansSessions.Client;
using OrleansSessions.Client.Security;
using OrleansSessions.Sessions;

namespace OrleansSessions.Hosting;

/// <summary>Sets up an Orleans client (<see cref="IClientBuilder"/>) to call an OrleansSessions cluster.</summary>
public static class ClientBuilderSessionExtensions
{
    /// <summary>
    /// Configures the client for OrleansSessions:
    /// <list type="bullet">
    /// <item>static gateway clustering on <see cref="SessionClientOptions.Gateways"/> (default <see cref="SessionClientOptions.DefaultGateway"/>);</item>
    /// <item><see cref="ClusterOptions"/>: <see cref="SessionClientOptions.ClusterId"/> and <see cref="SessionClientOptions.ServiceId"/>;</item>
    /// <item>Orleans' <c>ClientMessagingOptions.ResponseTimeout</c> = <see cref="SessionClientOptions.ResponseTimeout"/> (5 s by default);</item>
    /// <item>a connection retry filter that keeps trying the gateways for <see cref="SessionClientOptions.ConnectTimeout"/>,
    /// after which starting the client fails with Orleans' own exception (classified as unavailable by
    /// <see cref="SessionFailure.Classify"/>);</item>
    /// <item>with <see cref="SessionClientOptions.CertificateAuthorities"/>, TLS to the gateways (Orleans' <c>UseTls</c>):
    /// the gateway's certificate must chain to one of them and allow server authentication, and
    /// <see cref="SessionClientOptions.Certificate"/>, if any, is presented as the client's certificate;</item>
    /// <item>the memory stream provider <see cref="SessionStreams.ProviderName"/>, so that the client can subscribe to
    /// session events, and <see cref="ISessionEvents"/> in the client's services;</item>
    /// <item>a <see cref="SessionToucher"/> in the client's services, which coalesces concurrent touches;</item>
    /// <item>Orleans' activity propagation when <see cref="SessionClientOptions.ActivityPropagation"/> is set.</item>
    /// </list>
    /// </summary>
    /// <exception cref="FormatException">A gateway is not host:port.</exception>
    /// <exception cref="ArgumentException">
    /// A gateway host cannot be resolved, an option is out of range, or the certificate has no private key, does not
    /// allow client authentication or comes without <see cref="SessionClientOptions.CertificateAuthorities"/>.
    /// </exception>
    public static IClientBuilder UseOrleansSessions(this IClientBuilder builder, Action<SessionClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new SessionClientOptions();
        configure?.Invoke(options);
        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            throw new ArgumentException("The cluster id must not be empty.", nameof(configure));
        }
        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            throw new ArgumentException("The service id must not be empty.", nameof(configure));
        }
        if (options.ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"The connect timeout must be > 0 (got {options.ConnectTimeout}).", nameof(configure));
        }
        if (options.ResponseTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"The response timeout must be > 0 (got {options.ResponseTimeout}).", nameof(configure));
        }
        UseTlsIfConfigured(builder, options);
        var gateways = (options.Gateways.Count == 0 ? [SessionClientOptions.DefaultGateway] : options.Gateways)
            .Select(GatewayEndpoints.Resolve)
            .Distinct()
            .ToArray();

        builder.UseStaticClustering(gateways);
        builder.Configure<ClusterOptions>(cluster =>
        {
            cluster.ClusterId = options.ClusterId;
            cluster.ServiceId = options.ServiceId;
        });
        var connectTimeout = options.ConnectTimeout;
        var responseTimeout = options.ResponseTimeout;
        builder.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = responseTimeout);
        builder.Services.AddOptions<SessionClientOptions>().Configure(o =>
        {
            o.Gateways.Clear();
            foreach (var gateway in options.Gateways)
            {
                o.Gateways.Add(gateway);
            }
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
            o.ConnectTimeout = connectTimeout;
            o.ResponseTimeout = responseTimeout;
            o.Certificate = options.Certificate;
            o.CertificateAuthorities.Clear();
            o.CertificateAuthorities.AddRange(options.CertificateAuthorities);
            o.ActivityPropagation = options.ActivityPropagation;
        });
        // One attempt at an unresponsive address may not take longer than the whole budget.
        builder.Services.AddOptions<ConnectionOptions>().Configure(o =>
        {
            if (o.OpenConnectionTimeout > connectTimeout)
            {
                o.OpenConnectionTimeout = connectTimeout;
            }
        });
        builder.UseConnectionRetryFilter<GatewayConnectRetryFilter>();
        if (options.ActivityPropagation)
        {
            builder.AddActivityPropagation();
        }
        builder.AddMemoryStreams(SessionStreams.ProviderName);
        builder.Services.TryAddSingleton<ISessionEvents, SessionEvents>();
        builder.Services.AddSessionToucher();
        return builder;
    }

    private static void UseTlsIfConfigured(IClientBuilder builder, SessionClientOptions options)
    {
        var certificate = options.Certificate;
        if (options.CertificateAuthorities.Count == 0)
        {
            if (certificate is not null)
            {
                throw new ArgumentException("A client certificate needs the CA certificate that issued the silos' certificates (CertificateAuthorities).", nameof(options));
            }
            return;
        }
        if (certificate is not null)
        {
            if (!certificate.HasPrivateKey)
            {
                throw new ArgumentException($"The client certificate '{certificate.Subject}' has no private key.", nameof(options));
            }
            if (!CertificateUsage.Allows(certificate, CertificateAuthorityValidator.ClientAuthentication))
            {
                throw new ArgumentException($"The client certificate '{certificate.Subject}' does not allow TLS client authentication (extended key usage clientAuth).", nameof(options));
            }
        }
        var validator = new CertificateAuthorityValidator(new X509Certificate2Collection(options.CertificateAuthorities), [CertificateAuthorityValidator.ServerAuthentication]);
        builder.UseTls(tls =>
        {
            tls.LocalCertificate = certificate;
            // Without a certificate the handshake still runs, so that the gateway's refusal is what the caller sees.
            tls.ClientCertificateMode = certificate is null ? RemoteCertificateMode.AllowCertificate : RemoteCertificateMode.RequireCertificate;
            tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.RemoteCertificateValidation = validator.Validate;
        });
    }

    /// <summary>
    /// Same as <see cref="UseOrleansSessions(IClientBuilder, Action{SessionClientOptions})"/> with the gateways
    /// <paramref name="gateways"/> ("host:port") and the other options at their defaults.
    /// </summary>
    public static IClientBuilder UseOrleansSessions(this IClientBuilder builder, params string[] gateways)
    {
        ArgumentNullException.ThrowIfNull(gateways);
        return builder.UseOrleansSessions(o =>
        {
            foreach (var gateway in gateways)
            {
                o.Gateways.Add(gateway);
            }
        });
    }
}

/// <summary>
/// Retries the client's connection to the gateways until <see cref="SessionClientOptions.ConnectTimeout"/> has passed
/// since the client started connecting (the filter is created when it starts), with a short growing pause between rounds.
/// </summary>
internal sealed class GatewayConnectRetryFilter(IOptions<SessionClientOptions> options, TimeProvider? time = null) : IClientConnectionRetryFilter
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly long _started = (time ?? TimeProvider.System).GetTimestamp();
    private int _attempt;

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        var remaining = options.Value.ConnectTimeout - _time.GetElapsedTime(_started);
        if (remaining <= TimeSpan.Zero || cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        var pause = TimeSpan.FromMilliseconds(Math.Min(100 * ++_attempt, 1000));
        await Task.Delay(pause < remaining ? pause : remaining, _time, cancellationToken).ConfigureAwait(false);
        return _time.GetElapsedTime(_started) < options.Value.ConnectTimeout;
    }
}
