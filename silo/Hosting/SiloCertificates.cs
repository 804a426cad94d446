using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OrleansSessions.Client.Security;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// The silo's certificate and the CA it trusts, from Security:Certificate (a PKCS#12 file opened with
/// Security:CertificatePassword, or a PEM certificate whose key is in the same file or in Security:CertificateKey)
/// and Security:CaCertificate (PEM). With them the silo and gateway ports speak mutual TLS and the HTTP port HTTPS.
/// </summary>
internal sealed class SiloCertificates
{
    private SiloCertificates(X509Certificate2 certificate, X509Certificate2Collection authorities)
    {
        Certificate = certificate;
        Authorities = authorities;
    }

    /// <summary>This silo's certificate, with its private key: presented on every port, inbound and outbound.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA certificate(s) every peer's and client's certificate must chain to.</summary>
    public X509Certificate2Collection Authorities { get; }

    /// <summary>Loads and checks the certificates; null when neither Security:Certificate nor Security:CaCertificate is set.</summary>
    /// <exception cref="SiloConfigurationException">A file is missing or unreadable, or the certificate cannot serve a silo; the message names the key.</exception>
    public static SiloCertificates? Read(HostSecurityOptions security)
    {
        ArgumentNullException.ThrowIfNull(security);
        var path = Trimmed(security.Certificate);
        var keyPath = Trimmed(security.CertificateKey);
        var password = security.CertificatePassword;
        var caPath = Trimmed(security.CaCertificate);
        if (path is null && caPath is null)
        {
            if (keyPath is not null)
            {
                throw new SiloConfigurationException("Security:CertificateKey is set but Security:Certificate is not.");
            }
            return null;
        }
        if (path is null)
        {
            throw new SiloConfigurationException("Security:Certificate must be set when Security:CaCertificate is (the silo's own certificate for TLS).");
        }
        if (caPath is null)
        {
            throw new SiloConfigurationException("Security:CaCertificate must be set when Security:Certificate is (peers and clients are accepted only with a certificate issued by that CA).");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = CertificateFiles.LoadWithKey(path, keyPath, password);
        }
        catch (FileNotFoundException ex)
        {
            var key = ex.FileName == keyPath && keyPath != path ? "Security:CertificateKey" : "Security:Certificate";
            throw new SiloConfigurationException($"{key} '{ex.FileName}' does not exist.", ex);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            var keys = IsPkcs12(path) ? "Security:CertificatePassword" : keyPath is null ? "a PEM private key in the same file, or Security:CertificateKey" : "Security:CertificateKey";
            throw new SiloConfigurationException($"Security:Certificate '{path}' cannot be loaded (check {keys}): {ex.Message}", ex);
        }

        X509Certificate2Collection authorities;
        try
        {
            authorities = CertificateFiles.LoadAuthorities(caPath);
        }
        catch (FileNotFoundException ex)
        {
            throw new SiloConfigurationException($"Security:CaCertificate '{caPath}' does not exist.", ex);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new SiloConfigurationException($"Security:CaCertificate '{caPath}' is not a PEM or DER certificate: {ex.Message}", ex);
        }

        if (!CertificateUsage.Allows(certificate, CertificateAuthorityValidator.ServerAuthentication)
            || !CertificateUsage.Allows(certificate, CertificateAuthorityValidator.ClientAuthentication))
        {
            throw new SiloConfigurationException($"Security:Certificate '{path}' must allow both TLS server and client authentication (extended key usage serverAuth and clientAuth): a silo is both to its peers.");
        }
        // Peers check this silo's certificate the way it checks theirs: fail here, in one line, rather than at every connection.
        var validator = new CertificateAuthorityValidator(authorities, SiloTls.PeerUsages);
        if (!validator.TryValidate(certificate, null, out var reason))
        {
            throw new SiloConfigurationException($"Security:Certificate '{path}' would be refused by peers trusting Security:CaCertificate '{caPath}': {reason}.");
        }
        return new SiloCertificates(certificate, authorities);
    }

    private static bool IsPkcs12(string path)
        => path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase);

    private static string? Trimmed(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
