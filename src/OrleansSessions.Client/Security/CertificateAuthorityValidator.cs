using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace OrleansSessions.Client.Security;

/// <summary>
/// Accepts a TLS peer's certificate only when it chains to one of the configured CA certificates (and to nothing
/// else: the machine's trusted roots play no part), is within its validity period and allows the required extended
/// key usages. Host names are not checked: the CA is the cluster's own, and a certificate it issued is the identity.
/// </summary>
public sealed partial class CertificateAuthorityValidator
{
    /// <summary>TLS server authentication (1.3.6.1.5.5.7.3.1): a gateway or a silo answering a peer.</summary>
    public static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    /// <summary>TLS client authentication (1.3.6.1.5.5.7.3.2): a client or a silo calling a peer.</summary>
    public static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    private readonly X509Certificate2Collection _authorities;
    private readonly Oid[] _usages;
    private readonly ILogger? _logger;
    private readonly TimeProvider _time;

    /// <summary>Creates a validator trusting <paramref name="authorities"/> and requiring every usage of <paramref name="usages"/>.</summary>
    /// <param name="authorities">The CA certificate(s); at least one.</param>
    /// <param name="usages">Extended key usages the peer's certificate must allow (a certificate without the extension allows all).</param>
    /// <param name="logger">Where refusals are logged (Warning, with the reason), if anywhere.</param>
    /// <param name="time">The clock of the validity check; default the system clock.</param>
    /// <exception cref="ArgumentException"><paramref name="authorities"/> is empty.</exception>
    public CertificateAuthorityValidator(X509Certificate2Collection authorities, IEnumerable<Oid> usages, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        ArgumentNullException.ThrowIfNull(usages);
        if (authorities.Count == 0)
        {
            throw new ArgumentException("At least one CA certificate is needed.", nameof(authorities));
        }
        _authorities = authorities;
        _usages = usages.ToArray();
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// The callback of Orleans' <c>TlsOptions.RemoteCertificateValidation</c>: true when <paramref name="certificate"/>
    /// is acceptable. The platform's own verdict (<paramref name="policyErrors"/>, made against the machine's roots
    /// and the host name) is ignored; the intermediates the peer sent (<paramref name="presentedChain"/>) help build
    /// the chain but are not trusted by themselves.
    /// </summary>
    public bool Validate(X509Certificate2 certificate, X509Chain? presentedChain, SslPolicyErrors policyErrors)
    {
        if (certificate is null || policyErrors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }
        if (TryValidate(certificate, presentedChain, out var reason))
        {
            return true;
        }
        if (_logger is not null)
        {
            LogRefused(_logger, certificate.Subject, certificate.Issuer, certificate.Thumbprint, reason);
        }
        return false;
    }

    /// <summary>Checks <paramref name="certificate"/>; when it is refused, <paramref name="reason"/> says why in a few words.</summary>
    public bool TryValidate(X509Certificate2 certificate, X509Chain? presentedChain, out string reason)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        // The cluster's own CA publishes no revocation lists; revocation is by replacing the CA (see the README).
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        foreach (var usage in _usages)
        {
            chain.ChainPolicy.ApplicationPolicy.Add(usage);
        }
        if (presentedChain is not null)
        {
            foreach (var element in presentedChain.ChainElements)
            {
                if (!element.Certificate.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
                {
                    chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }
        }
        if (chain.Build(certificate))
        {
            // The chain engine checks the usages too; this states the rule without relying on how a platform combines several.
            foreach (var usage in _usages)
            {
                if (!CertificateUsage.Allows(certificate, usage))
                {
                    reason = $"its extended key usage does not allow {usage.FriendlyName ?? usage.Value}";
                    return false;
                }
            }
            reason = "";
            return true;
        }
        var problems = chain.ChainStatus.Where(s => s.Status != X509ChainStatusFlags.NoError).Select(s => Describe(s.Status)).Distinct();
        reason = string.Join(", ", problems) is { Length: > 0 } text ? text : "the chain could not be built";
        return false;
    }

    private static string Describe(X509ChainStatusFlags status) => status switch
    {
        X509ChainStatusFlags.UntrustedRoot or X509ChainStatusFlags.PartialChain => "not issued by the configured CA",
        X509ChainStatusFlags.NotTimeValid => "expired or not yet valid",
        X509ChainStatusFlags.NotValidForUsage or X509ChainStatusFlags.InvalidExtension => "its extended key usage does not allow this role",
        X509ChainStatusFlags.NotSignatureValid => "invalid signature",
        _ => status.ToString(),
    };

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Refused the TLS certificate of a peer (subject {Subject}, issuer {Issuer}, thumbprint {Thumbprint}): {Reason}")]
    private static partial void LogRefused(ILogger logger, string subject, string issuer, string thumbprint, string reason);
}
